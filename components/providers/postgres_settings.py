"""The PostgresSettings dynamic resource: server settings through the target's own mechanism."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack.database.pg_settings import SettingsTarget
from supastack.resource_props import PostgresSettingsProps
from supastack.targets import settings_target


class PostgresSettingsProvider(DeclarativeProvider[PostgresSettingsProps]):
    """Apply settings, reset the ones removed, and read drift from the recorded values."""

    props_type = PostgresSettingsProps

    def _target(self, raw: dict[str, Any]) -> tuple[SettingsTarget, dict[str, str]]:
        settings = self.typed(raw)
        where = settings_target(
            settings.target, settings.conninfo, settings.local, settings.client()
        )
        return where, settings.values

    def create(self, props: dict[str, Any]) -> CreateResult:
        target, values = self._target(props)
        target.apply(values)
        return CreateResult("postgres-settings", {**props, "recorded": target.recorded(values)})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        target, values = self._target(news)
        removed = set(self.typed(olds).values) - set(values)
        if removed:
            target.reset(removed)
        target.apply(values)
        return UpdateResult({**news, "recorded": target.recorded(values)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        target, values = self._target(props)
        target.reset(values)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Settings changed outside Pulumi show as changed values; the next deploy restores them."""
        target, values = self._target(props)
        live = target.recorded(values)
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
            PostgresSettingsProvider(),
            name,
            {**props, "recorded": None},
            with_secret_outputs(opts, PostgresSettingsProvider.props_type),
        )
