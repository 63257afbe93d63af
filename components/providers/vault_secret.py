"""The VaultSecret dynamic resource: one named secret in Supabase Vault, for SQL to read."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack import vault


class VaultSecretProvider(DeclarativeProvider):
    inputs: ClassVar[tuple[str, ...]] = ("conninfo", "name", "value", "description")
    replace_on: ClassVar[tuple[str, ...]] = ("name",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        vault.put_secret(props["conninfo"], props["name"], props["value"], props["description"])
        return CreateResult(props["name"], props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        vault.put_secret(news["conninfo"], news["name"], news["value"], news["description"])
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        vault.delete_secret(props["conninfo"], props["name"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        held = vault.holds(props["conninfo"], props["name"], props["value"])
        if held is None:
            return gone()
        return ReadResult(id_, props if held else {**props, "value": ""})


class VaultSecret(Resource, module="functions", name="VaultSecret"):
    """A secret in Vault (``vault.decrypted_secrets`` by name)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(VaultSecretProvider(), name, props, with_secret_outputs(opts))
