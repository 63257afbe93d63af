"""The ordered grant and default-privilege steps an app manifest asks for.

A role in ``revokeDefaultGrants`` ends up with exactly the privileges the manifest grants it:
for each object kind the manifest grants it nothing on (all objects), Supabase's defaults are
revoked, on existing objects and on objects created later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from psycopg import sql

from supastack.config.manifest import AppManifest

OBJECT_KINDS = ("table", "sequence", "function")


@dataclass(frozen=True)
class PrivilegeStep:
    """One GRANT (``existing`` objects) or ALTER DEFAULT PRIVILEGES (``future`` objects)."""

    label: str
    scope: Literal["existing", "future"]
    role: str
    object_type: str
    privileges: list[str]
    objects: list[str] = field(default_factory=list)
    owner: str = "postgres"


def privilege_steps(manifest: AppManifest) -> list[PrivilegeStep]:
    """Every step, in the order they are applied (one at a time)."""
    steps = [
        PrivilegeStep(
            f"grant-{i}", "existing", g.role, g.object_type, list(g.privileges), g.objects
        )
        for i, g in enumerate(manifest.grants)
    ]
    steps += [
        PrivilegeStep(
            f"default-{i}", "future", d.role, d.object_type, list(d.privileges), owner=d.owner
        )
        for i, d in enumerate(manifest.default_privileges)
    ]
    for role in manifest.revoke_default_grants:
        granted = {g.object_type for g in manifest.grants if g.role == role and not g.objects}
        defaults = {d.object_type for d in manifest.default_privileges if d.role == role}
        for kind in OBJECT_KINDS:
            if kind not in granted:
                steps.append(PrivilegeStep(f"revoke-{role}-{kind}", "existing", role, kind, []))
            if kind not in defaults:
                steps.append(
                    PrivilegeStep(f"revoke-default-{role}-{kind}", "future", role, kind, [])
                )
    return steps


#: What ``ALL`` grants on a table, of the privileges a reader or writer uses.
_TABLE_ALL = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def table_privileges(manifest: AppManifest, role: str, table: str) -> set[str]:
    """What the steps leave ``role`` holding on the app's ``table``, made by its migrations:
    the grants that name it (or every table) and the default privileges such a table gets."""
    held: set[str] = set()
    for step in privilege_steps(manifest):
        if step.object_type != "table" or step.role != role:
            continue
        if step.scope == "future" or not step.objects or table in step.objects:
            held.update(step.privileges)
    return set(_TABLE_ALL) if "ALL" in held else held


_KINDS = {"table": "TABLES", "sequence": "SEQUENCES", "function": "FUNCTIONS"}


def _privileges(step: PrivilegeStep) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL(p) for p in step.privileges)


def step_statements(step: PrivilegeStep, schema: str) -> list[sql.Composed]:
    """The SQL of one step, as pulumi-postgresql's Grant and DefaultPrivileges apply it: the
    listed privileges become the role's whole set there (none: all revoked)."""
    role, in_schema = sql.Identifier(step.role), sql.Identifier(schema)
    if step.scope == "future":
        head = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}").format(
            sql.Identifier(step.owner), in_schema
        )
        kind = sql.SQL(_KINDS[step.object_type])
        if not step.privileges:
            return [sql.SQL("{} REVOKE ALL ON {} FROM {}").format(head, kind, role)]
        return [sql.SQL("{} GRANT {} ON {} TO {}").format(head, _privileges(step), kind, role)]
    if step.object_type == "schema":
        target: sql.Composable = sql.SQL("SCHEMA {}").format(in_schema)
    elif step.objects:
        target = sql.SQL("{} {}").format(
            sql.SQL(step.object_type.upper()),
            sql.SQL(", ").join(sql.Identifier(schema, o) for o in step.objects),
        )
    else:
        target = sql.SQL("ALL {} IN SCHEMA {}").format(sql.SQL(_KINDS[step.object_type]), in_schema)
    statements = [sql.SQL("REVOKE ALL ON {} FROM {}").format(target, role)]
    if step.privileges:
        statements.append(sql.SQL("GRANT {} ON {} TO {}").format(_privileges(step), target, role))
    return statements
