"""Row level security: enable it on tables, and manage policies as declarative objects.

A policy is created, replaced (drop and create in one transaction, so no request ever sees
the table without it) and dropped here. Drift is detected by comparing ``pg_policies`` with
what was recorded right after supastack wrote the policy: Postgres stores expressions in its
own normalised form, so the recorded form, not the manifest text, is the baseline.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, replace
from typing import LiteralString

import psycopg
from psycopg import sql

from supastack.database import sqltext
from supastack.database.postgres import Connection, connect
from supastack.database.specs import PolicySpec
from supastack.errors import SupastackError

_COMMANDS = {
    "all": "ALL",
    "select": "SELECT",
    "insert": "INSERT",
    "update": "UPDATE",
    "delete": "DELETE",
}


@dataclass(frozen=True)
class Policy:
    """A policy as declared (expressions as written) or as read back (as Postgres shows them)."""

    schema: str
    table: str
    name: str
    command: str = "all"
    roles: tuple[str, ...] = ("public",)
    mode: str = "permissive"
    using: str | None = None
    with_check: str | None = None

    @property
    def label(self) -> str:
        return f"policy {self.name!r} on {self.schema}.{self.table}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "roles": list(self.roles)}

    @classmethod
    def of_spec(cls, schema: str, spec: PolicySpec) -> Policy:
        """The policy a manifest declares on a table of ``schema``."""
        return cls(schema, spec.table, spec.name, spec.command, tuple(spec.roles), spec.mode,
                   spec.using, spec.with_check)  # fmt: skip


def _table(policy: Policy) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(policy.schema), sql.Identifier(policy.table))


def _clause(keyword: LiteralString, expression: str | None) -> sql.Composable:
    if expression is None:
        return sql.SQL("")
    # Parsed first: exactly one SQL expression, so it cannot end the clause early.
    return sql.SQL(" {} ({})").format(sql.SQL(keyword), sql.SQL(sqltext.expression(expression)))


def _role(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "public" else sql.Identifier(name)


def create_statement(policy: Policy) -> sql.Composed:
    """``CREATE POLICY`` for the policy (its expressions parsed first)."""
    return sql.SQL(
        "CREATE POLICY {name} ON {table} AS {mode} FOR {command} TO {roles}{using}{check}"
    ).format(
        name=sql.Identifier(policy.name),
        table=_table(policy),
        mode=sql.SQL("RESTRICTIVE" if policy.mode == "restrictive" else "PERMISSIVE"),
        command=sql.SQL(_COMMANDS[policy.command]),
        roles=sql.SQL(", ").join(_role(r) for r in policy.roles),
        using=_clause("USING", policy.using),
        check=_clause("WITH CHECK", policy.with_check),
    )


def _create(conn: Connection, policy: Policy) -> None:
    conn.execute(create_statement(policy))


def _drop(conn: Connection, policy: Policy) -> None:
    conn.execute(
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(
            sql.Identifier(policy.name), _table(policy)
        )
    )


def _read(conn: Connection, schema: str, table: str, name: str) -> Policy | None:
    row = conn.execute(
        "SELECT cmd, roles::text[], permissive, qual, with_check FROM pg_policies "
        "WHERE schemaname = %s AND tablename = %s AND policyname = %s",
        [schema, table, name],
    ).fetchone()
    if row is None:
        return None
    cmd, roles, permissive, qual, check = row
    return Policy(
        schema, table, name, cmd.lower(), tuple(sorted(roles)), permissive.lower(), qual, check
    )


def create_policy(conninfo: str, policy: Policy, replacing: Policy | None = None) -> Policy:
    """Create the policy, first dropping ``replacing`` in the same transaction (Postgres cannot
    alter every part of a policy, and no request may see the table without one); return the
    policy as Postgres shows it (the drift baseline)."""
    with connect(conninfo) as conn:
        try:
            with conn.transaction():
                if replacing is not None:
                    _drop(conn, replacing)
                _create(conn, policy)
        except psycopg.Error as exc:
            raise SupastackError(f"{policy.label}: {exc}") from None
        created = _read(conn, policy.schema, policy.table, policy.name)
    assert created is not None
    return created


def adopt_policy(conninfo: str, policy: Policy) -> Policy | None:
    """Adoption (``supastack:adopt``): a policy of this name made by hand is taken over only if
    Postgres shows it as it would show the declared one (both deparsed: the declared one is
    created under another name in a transaction rolled back); its live form is returned as the
    drift baseline. None: there is none. A different one is an error naming what differs,
    nothing changed."""
    with connect(conninfo) as conn:
        live = _read(conn, policy.schema, policy.table, policy.name)
        if live is None:
            return None
        try:
            with conn.transaction(force_rollback=True):
                probe = replace(policy, name=f"supastack_adopt_{secrets.token_hex(8)}")
                _create(conn, probe)
                declared = _read(conn, policy.schema, policy.table, probe.name)
        except psycopg.Error as exc:
            raise SupastackError(f"{policy.label}: {exc}") from None
    assert declared is not None
    differ = [
        f"{field} is {getattr(live, field)!r}, declared {getattr(declared, field)!r}"
        for field in _COMPARED
        if getattr(live, field) != getattr(declared, field)
    ]
    if differ:
        raise SupastackError(
            f"cannot adopt {policy.label}: it exists and differs from the program ("
            + "; ".join(differ)
            + "); make them equal (in the program or the live policy) to adopt it, or drop it"
        )
    return live


def drop_policy(conninfo: str, policy: Policy) -> None:
    """Drop the policy; a table that is gone already (reverted migration) is not an error."""
    with connect(conninfo) as conn:
        if _relrowsecurity(conn, policy.schema, policy.table) is not None:
            _drop(conn, policy)


def read_policy(conninfo: str, schema: str, table: str, name: str) -> Policy | None:
    with connect(conninfo) as conn:
        return _read(conn, schema, table, name)


#: What makes two policies of one name the same policy.
_COMPARED = ("command", "roles", "mode", "using", "with_check")


def drift(recorded: Policy, live: Policy | None) -> list[str]:
    """How the live policy differs from the recorded one (empty: no drift)."""
    if live is None:
        return [f"{recorded.label} is missing"]
    return [
        f"{recorded.label}: {field} is {getattr(live, field)!r}, "
        f"deployed {getattr(recorded, field)!r}"
        for field in _COMPARED
        if getattr(live, field) != getattr(recorded, field)
    ]


def enable_rls(conninfo: str, schema: str, table: str) -> None:
    """``ALTER TABLE ... ENABLE ROW LEVEL SECURITY`` (idempotent)."""
    with connect(conninfo) as conn:
        try:
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} ENABLE ROW LEVEL SECURITY").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
        except psycopg.Error as exc:
            raise SupastackError(f"row level security on {schema}.{table}: {exc}") from None


def rls_enabled(conninfo: str, schema: str, table: str) -> bool | None:
    """Whether RLS is on for the table; None if the table does not exist."""
    with connect(conninfo) as conn:
        return _relrowsecurity(conn, schema, table)


def _relrowsecurity(conn: Connection, schema: str, table: str) -> bool | None:
    row = conn.execute(
        "SELECT c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
        [schema, table],
    ).fetchone()
    return None if row is None else bool(row[0])
