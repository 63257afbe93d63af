"""The VaultSecret dynamic resource: one named secret in Supabase Vault, for SQL to read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from components.providers.base import TypedProvider, TypedResource
from supastack.database import vault
from supastack.resource_props import Deferred, OnDatabase, secret


class VaultSecretProps(OnDatabase):
    name: str
    value: str = secret()
    description: str = ""

    @classmethod
    def for_secret(
        cls, conninfo: Deferred[str], name: str, value: Deferred[str], description: str
    ) -> Self:
        return cls.declared(conninfo=conninfo, name=name, value=value, description=description)


class VaultSecretProvider(TypedProvider[VaultSecretProps]):
    props_type = VaultSecretProps
    replace_on = ("name",)

    def identify(self, props: VaultSecretProps) -> str:
        return props.name

    def put(self, props: VaultSecretProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        vault.put_secret(props.conninfo, props.name, props.value, props.description)
        return {}

    def remove(self, props: VaultSecretProps) -> None:
        vault.delete_secret(props.conninfo, props.name)

    def observe(
        self, props: VaultSecretProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        held = vault.holds(props.conninfo, props.name, props.value)
        if held is None:
            return None
        return {} if held else {"value": ""}


class VaultSecret(TypedResource[VaultSecretProps], module="functions", name="VaultSecret"):
    """A secret in Vault (``vault.decrypted_secrets`` by name)."""

    provider_type = VaultSecretProvider
