"""Membership of tables in a publication (Supabase Realtime listens to ``supabase_realtime``).

Only the tables a stack declares are added or dropped; tables others put in the publication
are left alone, so two apps (or a dashboard edit) can share it.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from supastack.database.postgres import Connection, connect
from supastack.errors import SupastackError

REALTIME = "supabase_realtime"
Table = tuple[str, str]


def _members(conn: Connection, publication: str) -> set[Table]:
    found = conn.execute(
        "SELECT puballtables FROM pg_publication WHERE pubname = %s", [publication]
    )
    row = found.fetchone()
    if row is None:
        raise SupastackError(f"publication {publication!r} does not exist")
    if row[0]:
        raise SupastackError(f"publication {publication!r} is FOR ALL TABLES; nothing to add")
    rows = conn.execute(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
        [publication],
    ).fetchall()
    return {(schema, table) for schema, table in rows}


def members(conninfo: str, publication: str, among: Iterable[Table]) -> list[Table]:
    """Which of ``among`` are in the publication now, in ``among``'s order (so a refresh of
    an unchanged membership is no change)."""
    with connect(conninfo) as conn:
        present = _members(conn, publication)
    return [table for table in among if table in present]


def _alter(conn: Connection, publication: str, action: str, tables: Iterable[Table]) -> None:
    names = sql.SQL(", ").join(
        sql.SQL("{}.{}").format(sql.Identifier(s), sql.Identifier(t)) for s, t in sorted(tables)
    )
    conn.execute(
        sql.SQL("ALTER PUBLICATION {} {} TABLE {}").format(
            sql.Identifier(publication), sql.SQL(action), names
        )
    )


def add_tables(conninfo: str, publication: str, tables: Iterable[Table]) -> None:
    """Add the tables not yet in the publication (one statement: all or none)."""
    with connect(conninfo) as conn:
        missing = set(tables) - _members(conn, publication)
        if missing:
            try:
                _alter(conn, publication, "ADD", missing)
            except psycopg.Error as exc:
                raise SupastackError(f"realtime publication {publication}: {exc}") from None


def drop_tables(conninfo: str, publication: str, tables: Iterable[Table]) -> None:
    """Drop the tables that are in the publication (gone tables left the publication already)."""
    with connect(conninfo) as conn:
        present = set(tables) & _members(conn, publication)
        if present:
            _alter(conn, publication, "DROP", present)
