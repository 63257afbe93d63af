"""The EdgeFunction dynamic resource: one function, deployed when its content hash changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pulumi
from pydantic import Field

from components.providers.base import TypedProvider, TypedResource
from supastack.functions.packaging import FunctionPackage, deno_check
from supastack.local.paths import DENO_DIR
from supastack.local.system import ensure_deno
from supastack.resource_props import Deferred, OnManagementApi


class EdgeFunctionProps(OnManagementApi):
    not_diffed: ClassVar[frozenset[str]] = frozenset(
        {"files", "functions_url", "verify_jwt_off_reason", "adopt"}
    )

    functions_url: str
    app: str
    slug: str
    hash: str
    verify_jwt: bool
    verify_jwt_off_reason: str | None = None
    files: dict[str, str] = Field(repr=False)
    adopt: bool = False
    """Take over a function of this slug deployed with this very code, without deploying it
    again (``supastack:adopt``)."""

    @classmethod
    def for_package(
        cls, api: Mapping[str, Any], token: Deferred[str], functions_url: str,
        package: FunctionPackage, verify_jwt_off_reason: str | None, *, adopt: bool = False,
    ) -> Self:  # fmt: skip
        return cls.declared(
            api=api, token=token, functions_url=functions_url, app=package.app,
            slug=package.slug, hash=package.hash, verify_jwt=package.verify_jwt,
            verify_jwt_off_reason=verify_jwt_off_reason, files=package.text_files(), adopt=adopt,
        )  # fmt: skip

    def package(self) -> FunctionPackage:
        data = {path: text.encode() for path, text in self.files.items()}
        return FunctionPackage(self.app, self.slug, self.verify_jwt, data)


class EdgeFunctionProvider(TypedProvider[EdgeFunctionProps]):
    """Deploy on create and on any change (an older hash brings the older code back) unless
    that very package is live already; delete removes the function; ``read`` notices a deploy
    made outside the stack."""

    props_type = EdgeFunctionProps
    replace_on = ("slug",)

    def identify(self, props: EdgeFunctionProps) -> str:
        return props.slug

    def put(self, props: EdgeFunctionProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        package = props.package()
        deno_check(package, ensure_deno(), DENO_DIR)
        # an update finds the package live when the edit loop uploaded it ahead
        # (supastack.delivery.quick); a create only when adopting what a team deployed
        look = before is not None or props.adopt
        deployed = props.client().get_function(package.slug) if look else None
        if not (deployed and package.deployed_as(deployed)):
            deployed = props.client().deploy_function(package.upload())
        return {
            "url": f"{props.functions_url}/functions/v1/{package.slug}",
            "version": deployed["version"],
            "ezbr_sha256": deployed.get("ezbr_sha256"),
        }

    def remove(self, props: EdgeFunctionProps) -> None:
        props.client().delete_function(props.slug)

    def observe(
        self, props: EdgeFunctionProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        live = props.client().get_function(props.slug)
        if live is None:
            return None
        if (live["version"], live.get("ezbr_sha256")) == (
            recorded["version"], recorded["ezbr_sha256"],
        ):  # fmt: skip
            return {}
        # Deployed from elsewhere: report it as different code, so the next deploy restores ours.
        return {"version": live["version"], "hash": f"drift:{live['version']}"}


class EdgeFunction(TypedResource[EdgeFunctionProps], module="functions", name="EdgeFunction"):
    """One deployed function."""

    provider_type = EdgeFunctionProvider
    outputs = ("url", "version", "ezbr_sha256")

    url: pulumi.Output[str]
    version: pulumi.Output[int]
    hash: pulumi.Output[str]
