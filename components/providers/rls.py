"""RLS dynamic resources: row level security on a table, and policies with drift detection."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack import rls

_POLICY_FIELDS = ("schema", "table", "name", "command", "roles", "mode", "using", "with_check")


def _policy(props: dict[str, Any]) -> rls.Policy:
    return rls.Policy(
        schema=props["schema"],
        table=props["table"],
        name=props["name"],
        command=props["command"],
        roles=tuple(props["roles"]),
        mode=props["mode"],
        using=props.get("using"),
        with_check=props.get("with_check"),
    )


class RlsPolicyProvider(DeclarativeProvider):
    """create/update/delete a policy; ``read`` reports drift against ``pg_policies``."""

    inputs: ClassVar[tuple[str, ...]] = ("conninfo", *_POLICY_FIELDS)

    def create(self, props: dict[str, Any]) -> CreateResult:
        policy = _policy(props)
        deployed = rls.create_policy(props["conninfo"], policy)
        return CreateResult(
            f"{policy.schema}.{policy.table}.{policy.name}",
            {**props, "deployed": deployed.as_dict()},
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Drop the old policy and create the new one in one transaction (renames too)."""
        deployed = rls.create_policy(news["conninfo"], _policy(news), replacing=_policy(olds))
        return UpdateResult({**news, "deployed": deployed.as_dict()})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        rls.drop_policy(props["conninfo"], _policy(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """On drift, report the live policy so the next deploy puts the declared one back."""
        recorded = _policy({**props, **props["deployed"]})
        live = rls.read_policy(props["conninfo"], recorded.schema, recorded.table, recorded.name)
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
            RlsPolicyProvider(), name, {**props, "deployed": None}, with_secret_outputs(opts)
        )


class RowLevelSecurityProvider(DeclarativeProvider):
    """Enable RLS on a table. Deleting the resource never disables it: RLS off is never implied."""

    inputs: ClassVar[tuple[str, ...]] = ("conninfo", "schema", "table", "enabled")
    replace_on: ClassVar[tuple[str, ...]] = ("schema", "table")

    def create(self, props: dict[str, Any]) -> CreateResult:
        rls.enable_rls(props["conninfo"], props["schema"], props["table"])
        return CreateResult(f"{props['schema']}.{props['table']}", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        rls.enable_rls(news["conninfo"], news["schema"], news["table"])
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Leave RLS on: a table without it is open to every API key."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        enabled = rls.rls_enabled(props["conninfo"], props["schema"], props["table"])
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
            RowLevelSecurityProvider(), name, {**props, "enabled": True}, with_secret_outputs(opts)
        )
