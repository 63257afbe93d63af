"""RLS dynamic resources: row level security on a table, and policies with drift detection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pulumi
from pydantic import Field

from components.providers.base import TypedProvider, TypedResource
from supastack.database import rls
from supastack.resource_props import Deferred, OnDatabase


class RlsPolicyProps(OnDatabase):
    schema_: str = Field(alias="schema")
    table: str
    name: str
    command: str
    roles: list[str]
    mode: str
    using: str | None = None
    with_check: str | None = None
    adopt: bool = False
    """Take over a policy of this name that exists and is the declared one
    (``supastack:adopt``)."""

    not_diffed: ClassVar[frozenset[str]] = frozenset({"adopt"})

    @classmethod
    def for_policy(cls, conninfo: Deferred[str], policy: rls.Policy, adopt: bool) -> Self:
        return cls.declared(conninfo=conninfo, **policy.as_dict(), adopt=adopt)

    def policy(self) -> rls.Policy:
        return rls.Policy(
            self.schema_, self.table, self.name, self.command, tuple(self.roles), self.mode,
            self.using, self.with_check,
        )  # fmt: skip


class RlsPolicyProvider(TypedProvider[RlsPolicyProps]):
    """create/update/delete a policy; ``read`` reports drift against ``pg_policies``. An update
    drops the old policy and creates the new one in one transaction (renames too)."""

    props_type = RlsPolicyProps

    def identify(self, props: RlsPolicyProps) -> str:
        return f"{props.schema_}.{props.table}.{props.name}"

    def put(self, props: RlsPolicyProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        """Create (a hand-made one of its name taken over with ``adopt``, if it is the same),
        or replace the old one."""
        if before is None and props.adopt:
            adopted = rls.adopt_policy(props.conninfo, props.policy())
            if adopted is not None:
                return {"deployed": adopted.as_dict()}
        replacing = None if before is None else self.typed(before).policy()
        deployed = rls.create_policy(props.conninfo, props.policy(), replacing=replacing)
        return {"deployed": deployed.as_dict()}

    def remove(self, props: RlsPolicyProps) -> None:
        rls.drop_policy(props.conninfo, props.policy())

    def observe(self, props: RlsPolicyProps, recorded: Mapping[str, Any]) -> dict[str, Any] | None:
        """On drift, report the live policy so the next deploy puts the declared one back."""
        baseline = self.typed({**recorded, **recorded["deployed"]}).policy()
        live = rls.read_policy(props.conninfo, baseline.schema, baseline.table, baseline.name)
        if live is None:
            return None
        drift = rls.drift(baseline, live)
        return {**live.as_dict(), "drift": drift} if drift else {}


class RlsPolicy(TypedResource[RlsPolicyProps], module="rls", name="RlsPolicy"):
    """A row level security policy."""

    provider_type = RlsPolicyProvider
    outputs = ("deployed",)

    deployed: pulumi.Output[dict[str, Any]]
    """The policy as Postgres showed it after deploy (the drift baseline)."""


class RowLevelSecurityProps(OnDatabase):
    schema_: str = Field(alias="schema")
    table: str
    enabled: bool = True

    @classmethod
    def for_table(cls, conninfo: Deferred[str], schema: str, table: str) -> Self:
        return cls.declared(conninfo=conninfo, schema_=schema, table=table, enabled=True)


class RowLevelSecurityProvider(TypedProvider[RowLevelSecurityProps]):
    """Enable RLS on a table. Deleting the resource never disables it: RLS off is never implied
    (a table without it is open to every API key)."""

    props_type = RowLevelSecurityProps
    replace_on = ("schema", "table")

    def identify(self, props: RowLevelSecurityProps) -> str:
        return f"{props.schema_}.{props.table}"

    def put(self, props: RowLevelSecurityProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        rls.enable_rls(props.conninfo, props.schema_, props.table)
        return {}

    def remove(self, props: RowLevelSecurityProps) -> None:
        """Leave RLS on."""

    def observe(
        self, props: RowLevelSecurityProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        enabled = rls.rls_enabled(props.conninfo, props.schema_, props.table)
        return None if enabled is None else {"enabled": enabled}


class RowLevelSecurity(TypedResource[RowLevelSecurityProps], module="rls", name="RowLevelSecurity"):
    """Row level security enabled on one table."""

    provider_type = RowLevelSecurityProvider

    enabled: pulumi.Output[bool]
