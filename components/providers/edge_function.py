"""The EdgeFunction dynamic resource: one function, deployed when its content hash changes."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack.functions.packaging import deno_check
from supastack.local.paths import DENO_DIR
from supastack.local.system import ensure_deno
from supastack.resource_props import EdgeFunctionProps


class EdgeFunctionProvider(DeclarativeProvider[EdgeFunctionProps]):
    """Deploy on create and on any change (an older hash brings the older code back); delete
    removes the function; ``read`` notices a deploy made outside the stack."""

    props_type = EdgeFunctionProps
    replace_on = ("slug",)

    def _deploy(self, props: dict[str, Any]) -> dict[str, Any]:
        function = self.typed(props)
        package = function.package()
        deno_check(package, ensure_deno(), DENO_DIR)
        deployed = function.client().deploy_function(package.upload())
        return {
            **props,
            "url": f"{function.functions_url}/functions/v1/{package.slug}",
            "version": deployed["version"],
            "ezbr_sha256": deployed.get("ezbr_sha256"),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["slug"], self._deploy(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._deploy(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        function = self.typed(props)
        function.client().delete_function(function.slug)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        function = self.typed(props)
        live = function.client().get_function(function.slug)
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
            with_secret_outputs(opts, EdgeFunctionProvider.props_type),
        )
