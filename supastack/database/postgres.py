"""Postgres connections for supastack's own work (migrations, policies, settings).

Every connection names itself in ``pg_stat_activity`` (``application_name``), so a DBA can tell
a deploy from an app, and an error message can name the deploy that holds a lock.
"""

from __future__ import annotations

from typing import Any

import psycopg

from supastack.errors import SupastackError

Connection = psycopg.Connection[tuple[Any, ...]]
APPLICATION_NAME = "supastack"


def connect(conninfo: str, *, autocommit: bool = True, subject: str = "") -> Connection:
    """Open a connection; errors name ``subject`` (what needed the database) and never show the
    connection string (it has a password)."""
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, application_name=APPLICATION_NAME)
    except psycopg.OperationalError as exc:
        prefix = f"{subject}: " if subject else ""
        raise SupastackError(f"{prefix}cannot connect to the database: {exc}") from None


def lock_until_commit(conn: Connection, key: str) -> None:
    """Wait for, then hold until the transaction ends, the advisory lock named ``key``: what
    serialises supastack's sessions that change one catalog row or one named thing."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
