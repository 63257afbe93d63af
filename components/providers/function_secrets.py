"""The FunctionSecrets dynamic resource: the project's function secrets a stack manages."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, api_from, with_secret_outputs
from supastack import function_secrets


class FunctionSecretsProvider(DeclarativeProvider):
    """Diff by value in memory (both sides come from Pulumi's encrypted state); delete removes
    only the names this resource manages."""

    inputs: ClassVar[tuple[str, ...]] = ("api", "token", "values")

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = function_secrets.changed(olds["values"], news["values"]) or (
            set(olds["values"]) - set(news["values"])
        )
        moved = olds["api"] != news["api"] or olds["token"] != news["token"]
        return DiffResult(changes=bool(changed) or moved, replaces=[], delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        recorded = function_secrets.sync(api_from(props), {}, props["values"])
        return CreateResult("function-secrets", {**props, "digests": recorded})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        recorded = function_secrets.sync(api_from(news), olds["values"], news["values"])
        return UpdateResult({**news, "digests": recorded})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        api_from(props).delete_secrets(props["values"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """A secret changed or removed outside the stack reads as a value to set again."""
        drifted = function_secrets.drifted(api_from(props), props["digests"])
        if not drifted:
            return ReadResult(id_, props)
        values = {name: "" if name in drifted else v for name, v in props["values"].items()}
        return ReadResult(id_, {**props, "values": values, "drifted": sorted(drifted)})


class FunctionSecrets(Resource, module="functions", name="FunctionSecrets"):
    """Function secrets (values are Pulumi secrets; so are the digests the API shows)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            FunctionSecretsProvider(), name, {**props, "digests": None}, with_secret_outputs(opts)
        )
