"""RLS dynamic resources: row level security on a table, and policies with drift detection."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack.database import rls
from supastack.resource_props import RlsPolicyProps, RowLevelSecurityProps


class RlsPolicyProvider(DeclarativeProvider[RlsPolicyProps]):
    """create/update/delete a policy; ``read`` reports drift against ``pg_policies``."""

    props_type = RlsPolicyProps

    def create(self, props: dict[str, Any]) -> CreateResult:
        declared = self.typed(props)
        policy = declared.policy()
        deployed = rls.create_policy(declared.conninfo, policy)
        return CreateResult(
            f"{policy.schema}.{policy.table}.{policy.name}",
            {**props, "deployed": deployed.as_dict()},
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Drop the old policy and create the new one in one transaction (renames too)."""
        declared = self.typed(news)
        deployed = rls.create_policy(
            declared.conninfo, declared.policy(), replacing=self.typed(olds).policy()
        )
        return UpdateResult({**news, "deployed": deployed.as_dict()})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        declared = self.typed(props)
        rls.drop_policy(declared.conninfo, declared.policy())

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """On drift, report the live policy so the next deploy puts the declared one back."""
        declared = self.typed(props)
        recorded = self.typed({**props, **props["deployed"]}).policy()
        live = rls.read_policy(declared.conninfo, recorded.schema, recorded.table, recorded.name)
        if live is None:
            return gone()
        if not rls.drift(recorded, live):
            return ReadResult(id_, props)
        return ReadResult(id_, {**props, **live.as_dict(), "drift": rls.drift(recorded, live)})


class RlsPolicy(Resource, module="rls", name="RlsPolicy"):
    """A row level security policy."""

    deployed: pulumi.Output[dict[str, Any]]
    """The policy as Postgres showed it after deploy (the drift baseline)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            RlsPolicyProvider(),
            name,
            {**props, "deployed": None},
            with_secret_outputs(opts, RlsPolicyProvider.props_type),
        )


class RowLevelSecurityProvider(DeclarativeProvider[RowLevelSecurityProps]):
    """Enable RLS on a table. Deleting the resource never disables it: RLS off is never implied."""

    props_type = RowLevelSecurityProps
    replace_on = ("schema", "table")

    def create(self, props: dict[str, Any]) -> CreateResult:
        table = self.typed(props)
        rls.enable_rls(table.conninfo, table.schema_, table.table)
        return CreateResult(f"{table.schema_}.{table.table}", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        table = self.typed(news)
        rls.enable_rls(table.conninfo, table.schema_, table.table)
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Leave RLS on: a table without it is open to every API key."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        table = self.typed(props)
        enabled = rls.rls_enabled(table.conninfo, table.schema_, table.table)
        if enabled is None:
            return gone()
        return ReadResult(id_, {**props, "enabled": enabled})


class RowLevelSecurity(Resource, module="rls", name="RowLevelSecurity"):
    """Row level security enabled on one table."""

    enabled: pulumi.Output[bool]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            RowLevelSecurityProvider(),
            name,
            {**props, "enabled": True},
            with_secret_outputs(opts, RowLevelSecurityProvider.props_type),
        )
