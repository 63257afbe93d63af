"""The FunctionSecrets dynamic resource: the project's function secrets a stack manages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pulumi.dynamic import DiffResult

from components.providers.base import TypedProvider, TypedResource
from supastack.functions import function_secrets
from supastack.resource_props import Deferred, OnManagementApi, secret


class FunctionSecretsProps(OnManagementApi):
    values: dict[str, str] = secret()
    digests: dict[str, str] | None = secret(default=None)
    """Output: the values' digests as the Management API lists them (a digest of a short
    secret can be guessed offline: secret too)."""

    not_diffed: ClassVar[frozenset[str]] = frozenset({"digests"})

    @classmethod
    def for_values(
        cls, api: Mapping[str, Any], token: Deferred[str], values: Deferred[dict[str, str]]
    ) -> Self:
        return cls.declared(api=api, token=token, values=values)


class FunctionSecretsProvider(TypedProvider[FunctionSecretsProps]):
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

    def identify(self, props: FunctionSecretsProps) -> str:
        return "function-secrets"

    def put(self, props: FunctionSecretsProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        previous = {} if before is None else self.typed(before).values
        return {"digests": function_secrets.sync(props.client(), previous, props.values)}

    def remove(self, props: FunctionSecretsProps) -> None:
        props.client().delete_secrets(list(props.values))

    def observe(
        self, props: FunctionSecretsProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """A secret changed or removed outside the stack reads as a value to set again."""
        drifted = function_secrets.drifted(props.client(), recorded["digests"])
        if not drifted:
            return {}
        values = {name: "" if name in drifted else v for name, v in props.values.items()}
        return {"values": values, "drifted": sorted(drifted)}


class FunctionSecrets(
    TypedResource[FunctionSecretsProps], module="functions", name="FunctionSecrets"
):
    """Function secrets (values are Pulumi secrets; so are the digests the API shows)."""

    provider_type = FunctionSecretsProvider
    outputs = ("digests",)
