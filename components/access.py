"""The Access component: an app's roles, grants, default privileges, RLS and policies.

Grants and default privileges (``supastack.database.privileges``) are chained one after another,
after the roles and the tables' RLS: pulumi-postgresql issues GRANT/REVOKE that collide ("tuple
concurrently updated") when run in parallel with each other or with anything else that writes
the same catalog rows.
"""

from __future__ import annotations

import base64
from typing import Any, TypedDict

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random

from components.postgres_imports import imported
from components.providers.database.rls import (
    RlsPolicy,
    RlsPolicyProps,
    RowLevelSecurity,
    RowLevelSecurityProps,
)
from supastack.config.manifest import AppManifest
from supastack.config.settings import AdoptImports
from supastack.database import rls, scram
from supastack.database.privileges import privilege_steps


class AccessArgs(TypedDict):
    """Inputs of :class:`Access`."""

    manifest: AppManifest
    conninfo: pulumi.Output[str]
    """The database connection string (a secret), for RLS and policies."""
    database: str
    adopt: bool
    """Take over hand-made policies that match (``supastack:adopt``, one deploy)."""
    imports: AdoptImports
    """The roles adopt found live: imported (``supastack:adoptImports``)."""


class Access(pulumi.ComponentResource):
    """Who may do what in one app's schema."""

    def __init__(
        self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:access:Access", name, {}, opts)
        manifest, database = args["manifest"], args["database"]
        schema = manifest.schema_name
        roles = []
        for role in manifest.roles:
            password: pulumi.Output[str] | None = None
            if role.login:
                generated = random.RandomPassword(
                    f"{name}-{role.name}-password",
                    length=32,
                    special=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                salt = random.RandomId(
                    f"{name}-{role.name}-salt",
                    byte_length=16,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                # The role gets a SCRAM verifier, never the plaintext (supastack.database.scram).
                password = pulumi.Output.secret(
                    pulumi.Output.all(generated.result, salt.b64_std).apply(
                        lambda values: scram.verifier(values[0], base64.b64decode(values[1]))
                    )
                )
            roles.append(
                postgresql.Role(
                    f"{name}-role-{role.name}",
                    name=role.name,
                    login=role.login,
                    password=password,
                    roles=role.member_of,
                    connection_limit=role.connection_limit,
                    opts=pulumi.ResourceOptions(parent=self).merge(
                        imported("roles", role.name, database, args["imports"])
                    ),
                )
            )

        # RLS first: a table is never granted to an API role before RLS guards it, and enabling
        # RLS writes the table's catalog row, which a concurrent GRANT on it also writes
        # ("tuple concurrently updated", found by the applier's parallel order).
        protected = {
            table: RowLevelSecurity(
                f"{name}-rls-{table}",
                RowLevelSecurityProps.for_table(args["conninfo"], schema, table),
                pulumi.ResourceOptions(parent=self),
            )
            for table in manifest.rls
        }
        chain: list[pulumi.Resource] = [*roles, *protected.values()]
        for step in privilege_steps(manifest):
            options = pulumi.ResourceOptions(parent=self, depends_on=list(chain))
            common: dict[str, Any] = {
                "database": database,
                "schema": schema,
                "role": step.role,
                "object_type": step.object_type,
                "privileges": step.privileges,
            }
            if step.scope == "existing":
                resource: pulumi.Resource = postgresql.Grant(
                    f"{name}-{step.label}", objects=step.objects or None, **common, opts=options
                )
            else:
                resource = postgresql.DefaultPrivileges(
                    f"{name}-{step.label}", owner=step.owner, **common, opts=options
                )
            chain = [resource]

        for policy in manifest.policies:
            RlsPolicy(
                f"{name}-policy-{policy.table}-{policy.name}",
                RlsPolicyProps.for_policy(
                    args["conninfo"],
                    rls.Policy.of_spec(schema, policy),
                    args["adopt"],
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[protected[policy.table], *chain]),
            )
        self.register_outputs({})
