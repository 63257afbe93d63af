"""The EdgeFunction dynamic resource: one function, deployed when its content hash changes."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, api_from, gone, with_secret_outputs
from supastack.local.paths import DENO_DIR
from supastack.local.system import ensure_deno
from supastack.packaging import FunctionPackage, deno_check


def _package(props: dict[str, Any]) -> FunctionPackage:
    files = {path: text.encode() for path, text in props["files"].items()}
    return FunctionPackage(props["app"], props["slug"], props["verify_jwt"], files)


class EdgeFunctionProvider(DeclarativeProvider):
    """Deploy on create and on any change (an older hash brings the older code back); delete
    removes the function; ``read`` notices a deploy made outside the stack."""

    inputs: ClassVar[tuple[str, ...]] = ("api", "token", "app", "slug", "hash", "verify_jwt")
    replace_on: ClassVar[tuple[str, ...]] = ("slug",)

    def _deploy(self, props: dict[str, Any]) -> dict[str, Any]:
        package = _package(props)
        deno_check(package, ensure_deno(), DENO_DIR)
        deployed = api_from(props).deploy_function(package.upload())
        return {
            **props,
            "url": f"{props['functions_url']}/functions/v1/{package.slug}",
            "version": deployed["version"],
            "ezbr_sha256": deployed.get("ezbr_sha256"),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["slug"], self._deploy(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._deploy(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        api_from(props).delete_function(props["slug"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = api_from(props).get_function(props["slug"])
        if live is None:
            return gone()
        if (live["version"], live.get("ezbr_sha256")) == (props["version"], props["ezbr_sha256"]):
            return ReadResult(id_, props)
        # Deployed from elsewhere: report it as different code, so the next deploy restores ours.
        return ReadResult(
            id_, {**props, "version": live["version"], "hash": f"drift:{live['version']}"}
        )


class EdgeFunction(Resource, module="functions", name="EdgeFunction"):
    """One deployed function."""

    url: pulumi.Output[str]
    version: pulumi.Output[int]
    hash: pulumi.Output[str]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            EdgeFunctionProvider(),
            name,
            {**props, "url": None, "version": None, "ezbr_sha256": None},
            with_secret_outputs(opts),
        )
