"""The FeatureFlag dynamic resource: one row of ``monitoring.feature_flags``."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack.flags import store
from supastack.resource_props import FeatureFlagProps


class FeatureFlagProvider(DeclarativeProvider[FeatureFlagProps]):
    """create and update write the row as the stack sets it, delete removes it (the flag then
    reads as off); ``read`` reports a hand edit as drift, which the next deploy (with refresh)
    puts back."""

    props_type = FeatureFlagProps
    replace_on = ("name",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        wanted = self.typed(props)
        store.put(wanted.conninfo, wanted.flag())
        return CreateResult(wanted.name, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        wanted = self.typed(news)
        store.put(wanted.conninfo, wanted.flag())
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        wanted = self.typed(props)
        store.delete(wanted.conninfo, wanted.name)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        wanted = self.typed(props)
        live = store.read(wanted.conninfo, wanted.name)
        if live is None:
            return gone()
        return ReadResult(id_, {**props, **FeatureFlagProps.values_of(live)})


class FeatureFlag(Resource, module="flags", name="FeatureFlag"):
    """A feature flag as the stack sets it."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            FeatureFlagProvider(),
            name,
            props,
            with_secret_outputs(opts, FeatureFlagProvider.props_type),
        )
