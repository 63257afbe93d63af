"""The FeatureFlag dynamic resource: one flag's row as the stack sets it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Self

from components.providers.base import TypedProvider, TypedResource
from supastack.flags import store
from supastack.flags.store import Flag
from supastack.resource_props import Deferred, OnDatabase


class FeatureFlagProps(OnDatabase):
    name: str
    app: str
    description: str
    enabled: bool
    percentage: float
    """Two decimals at most (``supastack.flags.specs.Percentage``), exact as a float."""
    allow: list[str]

    @classmethod
    def for_flag(cls, conninfo: Deferred[str], flag: Flag) -> Self:
        return cls.declared(conninfo=conninfo, **cls.values_of(flag))

    def flag(self) -> Flag:
        return Flag(
            self.name, self.app, self.description, self.enabled,
            Decimal(str(self.percentage)), tuple(self.allow),
        )  # fmt: skip

    @staticmethod
    def values_of(flag: Flag) -> dict[str, Any]:
        """A flag as the resource's properties (what the program declares and ``read`` finds)."""
        return {
            "name": flag.name, "app": flag.app, "description": flag.description,
            "enabled": flag.enabled, "percentage": float(flag.percentage),
            "allow": list(flag.allow),
        }  # fmt: skip


class FeatureFlagProvider(TypedProvider[FeatureFlagProps]):
    """create and update write the row as the stack sets it, delete removes it (the flag then
    reads as off); ``read`` reports a hand edit as drift, which the next deploy (with refresh)
    puts back."""

    props_type = FeatureFlagProps
    replace_on = ("name",)

    def identify(self, props: FeatureFlagProps) -> str:
        return props.name

    def put(self, props: FeatureFlagProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        store.put(props.conninfo, props.flag())
        return {}

    def remove(self, props: FeatureFlagProps) -> None:
        store.delete(props.conninfo, props.name)

    def observe(
        self, props: FeatureFlagProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        live = store.read(props.conninfo, props.name)
        return None if live is None else FeatureFlagProps.values_of(live)


class FeatureFlag(TypedResource[FeatureFlagProps], module="flags", name="FeatureFlag"):
    """A feature flag as the stack sets it."""

    provider_type = FeatureFlagProvider
