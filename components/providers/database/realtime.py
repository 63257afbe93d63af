"""The RealtimeConfig dynamic resource: a Supabase project's Realtime limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from components.providers.base import TypedProvider, TypedResource
from supastack.resource_props import Deferred, OnManagementApi, secret


class RealtimeConfigProps(OnManagementApi):
    values: dict[str, int] = secret()
    """Not secret in itself; secret because ``values`` is secret wherever it appears (the policy
    pack checks properties by name)."""

    @classmethod
    def for_limits(
        cls, api: Mapping[str, Any], token: Deferred[str], values: Mapping[str, int]
    ) -> Self:
        return cls.declared(api=api, token=token, values=dict(values))


class RealtimeConfigProvider(TypedProvider[RealtimeConfigProps]):
    """PATCH the declared limits; ``read`` shows limits changed in the dashboard. The API has no
    reset, so deleting the resource leaves the limits as they are."""

    props_type = RealtimeConfigProps

    def identify(self, props: RealtimeConfigProps) -> str:
        return "realtime-config"

    def put(self, props: RealtimeConfigProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        props.client().update_realtime_config(props.values)
        return {}

    def remove(self, props: RealtimeConfigProps) -> None:
        """Nothing to undo: the Management API cannot reset Realtime limits."""

    def observe(
        self, props: RealtimeConfigProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        live = props.client().realtime_config()
        return {"values": {k: live.get(k) for k in props.values}}


class RealtimeConfig(TypedResource[RealtimeConfigProps], module="database", name="RealtimeConfig"):
    """Realtime limits of a Supabase project."""

    provider_type = RealtimeConfigProvider
