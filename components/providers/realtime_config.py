"""The RealtimeConfig dynamic resource: Supabase Realtime limits, through the Management API."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack.resource_props import RealtimeConfigProps


class RealtimeConfigProvider(DeclarativeProvider[RealtimeConfigProps]):
    """PATCH the declared limits; ``read`` shows limits changed in the dashboard. The API has no
    reset, so deleting the resource leaves the limits as they are."""

    props_type = RealtimeConfigProps

    def create(self, props: dict[str, Any]) -> CreateResult:
        limits = self.typed(props)
        limits.client().update_realtime_config(limits.values)
        return CreateResult("realtime-config", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        limits = self.typed(news)
        limits.client().update_realtime_config(limits.values)
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing to undo: the Management API cannot reset Realtime limits."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        limits = self.typed(props)
        live = limits.client().realtime_config()
        return ReadResult(id_, {**props, "values": {k: live.get(k) for k in limits.values}})


class RealtimeConfig(Resource, module="database", name="RealtimeConfig"):
    """Realtime limits of a Supabase project."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            RealtimeConfigProvider(),
            name,
            props,
            with_secret_outputs(opts, RealtimeConfigProvider.props_type),
        )
