"""The VaultSecret dynamic resource: one named secret in Supabase Vault, for SQL to read."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack.database import vault
from supastack.resource_props import VaultSecretProps


class VaultSecretProvider(DeclarativeProvider[VaultSecretProps]):
    props_type = VaultSecretProps
    replace_on = ("name",)

    def _put(self, raw: dict[str, Any]) -> None:
        secret = self.typed(raw)
        vault.put_secret(secret.conninfo, secret.name, secret.value, secret.description)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._put(props)
        return CreateResult(props["name"], props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._put(news)
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        secret = self.typed(props)
        vault.delete_secret(secret.conninfo, secret.name)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        secret = self.typed(props)
        held = vault.holds(secret.conninfo, secret.name, secret.value)
        if held is None:
            return gone()
        return ReadResult(id_, props if held else {**props, "value": ""})


class VaultSecret(Resource, module="functions", name="VaultSecret"):
    """A secret in Vault (``vault.decrypted_secrets`` by name)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            VaultSecretProvider(),
            name,
            props,
            with_secret_outputs(opts, VaultSecretProvider.props_type),
        )
