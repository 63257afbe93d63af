"""The PostgresSettings dynamic resource: server settings through the target's own mechanism."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, api_from, with_secret_outputs
from supastack.pg_settings import SettingsTarget
from supastack.targets import settings_target


def _target(props: dict[str, Any]) -> SettingsTarget:
    api = api_from(props) if props.get("api") else None
    return settings_target(props["target"], props["conninfo"], props["local"], api)


class PostgresSettingsProvider(DeclarativeProvider):
    """Apply settings, reset the ones removed, and read drift from the recorded values."""

    inputs: ClassVar[tuple[str, ...]] = ("conninfo", "token", "target", "local", "api", "values")

    def create(self, props: dict[str, Any]) -> CreateResult:
        target = _target(props)
        target.apply(props["values"])
        return CreateResult(
            "postgres-settings", {**props, "recorded": target.recorded(props["values"])}
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        target = _target(news)
        removed = set(olds["values"]) - set(news["values"])
        if removed:
            target.reset(removed)
        target.apply(news["values"])
        return UpdateResult({**news, "recorded": target.recorded(news["values"])})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _target(props).reset(props["values"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Settings changed outside Pulumi show as changed values; the next deploy restores them."""
        live = _target(props).recorded(props["values"])
        if live == props["recorded"]:
            return ReadResult(id_, props)
        return ReadResult(id_, {**props, "values": live, "recorded": live})


class PostgresSettings(Resource, module="database", name="PostgresSettings"):
    """Postgres server settings of one stack."""

    recorded: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            PostgresSettingsProvider(), name, {**props, "recorded": None}, with_secret_outputs(opts)
        )
