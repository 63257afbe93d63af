"""Roles and extensions as the catalog holds them: what adopt's survey compares with what the
stack declares (:mod:`supastack.adopt.imports`), and what the offline applier's import reads
as ``pulumi-postgresql``'s ``Read`` does (``applier/imports.py``). Reads only; a role's password
is not read here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg

#: A role's attributes (``pg_roles`` columns) with the value a role has when nothing sets it
#: (``CREATE ROLE``'s default and pulumi-postgresql's; no manifest sets them), and the clause
#: that gives it that value, in the order :func:`role` reads them.
ROLE_ATTRIBUTES: dict[str, tuple[bool, str]] = {
    "rolsuper": (False, "NOSUPERUSER"), "rolcreatedb": (False, "NOCREATEDB"),
    "rolcreaterole": (False, "NOCREATEROLE"), "rolinherit": (True, "INHERIT"),
    "rolreplication": (False, "NOREPLICATION"), "rolbypassrls": (False, "NOBYPASSRLS"),
}  # fmt: skip


@dataclass(frozen=True)
class LiveRole:
    login: bool
    connection_limit: int
    member_of: tuple[str, ...]
    """The roles it is a member of, sorted."""
    attributes: dict[str, bool]
    """Each of :data:`ROLE_ATTRIBUTES` as it holds it."""

    def attributes_not_default(self) -> list[str]:
        """The clauses that give it the attributes a role has when nothing sets them."""
        return [
            clause
            for column, (default, clause) in ROLE_ATTRIBUTES.items()
            if self.attributes[column] != default
        ]


def role(conn: psycopg.Connection[Any], name: str) -> LiveRole | None:
    """The role ``name``, or None."""
    row = conn.execute(
        "SELECT r.rolcanlogin, r.rolconnlimit, ARRAY(SELECT g.rolname FROM pg_auth_members m"
        " JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1), r.rolsuper,"
        " r.rolcreatedb, r.rolcreaterole, r.rolinherit, r.rolreplication, r.rolbypassrls"
        " FROM pg_roles r WHERE r.rolname = %s",
        [name],
    ).fetchone()
    if row is None:
        return None
    login, limit, member_of, *attributes = row
    return LiveRole(
        login=login, connection_limit=limit, member_of=tuple(member_of),
        attributes=dict(zip(ROLE_ATTRIBUTES, attributes, strict=True)),
    )  # fmt: skip


class LiveExtension(NamedTuple):
    schema: str
    version: str


def extension(conn: psycopg.Connection[Any], name: str) -> LiveExtension | None:
    """The extension ``name``'s schema and version, or None when it is not installed."""
    row = conn.execute(
        "SELECT n.nspname, e.extversion FROM pg_extension e"
        " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = %s",
        [name],
    ).fetchone()
    return None if row is None else LiveExtension(str(row[0]), str(row[1]))
