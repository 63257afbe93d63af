"""The PostgresSettings dynamic resource: server settings through the target's own mechanism."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import pulumi

from components.providers.base import TypedProvider, TypedResource
from supastack.database.pg_settings import SettingsTarget
from supastack.platform.management_api import ManagementApi
from supastack.resource_props import ApiRef, Deferred, ResourceProps, secret
from supastack.targets import settings_target


class PostgresSettingsProps(ResourceProps):
    conninfo: str = secret()
    token: str | None = secret(default=None)
    target: str
    local: dict[str, Any] | None = None
    api: ApiRef | None = None
    values: dict[str, str] = secret()  # secret like every ``values`` (checked by name)

    @classmethod
    def for_values(
        cls, conninfo: Deferred[str], token: Deferred[str] | None, api: Mapping[str, Any] | None,
        where: Mapping[str, Any], values: Mapping[str, str],
    ) -> Self:  # fmt: skip
        """``where``: what the target says settings need (``Target.settings_props``)."""
        return cls.declared(
            conninfo=conninfo, token=token, api=api, target=where["target"],
            local=where["local"], values=dict(values),
        )  # fmt: skip

    def client(self) -> ManagementApi | None:
        if self.api is None or self.token is None:
            return None
        return ManagementApi(self.api.url, self.token, self.api.project_ref)

    def where(self) -> SettingsTarget:
        return settings_target(self.target, self.conninfo, self.local, self.client())


class PostgresSettingsProvider(TypedProvider[PostgresSettingsProps]):
    """Apply settings, reset the ones removed, and read drift from the recorded values."""

    props_type = PostgresSettingsProps

    def identify(self, props: PostgresSettingsProps) -> str:
        return "postgres-settings"

    def put(self, props: PostgresSettingsProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        target = props.where()
        removed = set() if before is None else set(self.typed(before).values) - set(props.values)
        if removed:
            target.reset(removed)
        target.apply(props.values)
        return {"recorded": target.recorded(props.values)}

    def remove(self, props: PostgresSettingsProps) -> None:
        props.where().reset(props.values)

    def observe(
        self, props: PostgresSettingsProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Settings changed outside Pulumi show as changed values; the next deploy restores them."""
        live = props.where().recorded(props.values)
        return {} if live == recorded["recorded"] else {"values": live, "recorded": live}


class PostgresSettings(
    TypedResource[PostgresSettingsProps], module="database", name="PostgresSettings"
):
    """Postgres server settings of one stack."""

    provider_type = PostgresSettingsProvider
    outputs = ("recorded",)

    recorded: pulumi.Output[dict[str, str]]
