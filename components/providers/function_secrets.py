"""The FunctionSecrets dynamic resource: the project's function secrets a stack manages."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack.functions import function_secrets
from supastack.resource_props import FunctionSecretsProps


class FunctionSecretsProvider(DeclarativeProvider[FunctionSecretsProps]):
    """Diff by value in memory (both sides come from Pulumi's encrypted state); delete removes
    only the names this resource manages."""

    props_type = FunctionSecretsProps

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        before, after = self.typed(olds), self.typed(news)
        changed = function_secrets.changed(before.values, after.values) or (
            set(before.values) - set(after.values)
        )
        moved = before.api != after.api or before.token != after.token
        return DiffResult(changes=bool(changed) or moved, replaces=[], delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        secrets = self.typed(props)
        recorded = function_secrets.sync(secrets.client(), {}, secrets.values)
        return CreateResult("function-secrets", {**props, "digests": recorded})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        secrets = self.typed(news)
        recorded = function_secrets.sync(secrets.client(), self.typed(olds).values, secrets.values)
        return UpdateResult({**news, "digests": recorded})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        secrets = self.typed(props)
        secrets.client().delete_secrets(list(secrets.values))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """A secret changed or removed outside the stack reads as a value to set again."""
        secrets = self.typed(props)
        drifted = function_secrets.drifted(secrets.client(), props["digests"])
        if not drifted:
            return ReadResult(id_, props)
        values = {name: "" if name in drifted else v for name, v in secrets.values.items()}
        return ReadResult(id_, {**props, "values": values, "drifted": sorted(drifted)})


class FunctionSecrets(Resource, module="functions", name="FunctionSecrets"):
    """Function secrets (values are Pulumi secrets; so are the digests the API shows)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            FunctionSecretsProvider(),
            name,
            {**props, "digests": None},
            with_secret_outputs(opts, FunctionSecretsProvider.props_type),
        )
