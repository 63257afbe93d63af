"""Secrets SQL needs (cron jobs, alert channels) in Supabase Vault, by name.

Vault has no upsert: the row is looked up by name and updated, or created, inside one
transaction that holds a lock on the name, so two deploys cannot create it twice. Values go to
Postgres as bind parameters only, never into SQL text or messages.
"""

from __future__ import annotations

import psycopg

from supastack.database.postgres import connect
from supastack.errors import SupastackError


def put_secret(conninfo: str, name: str, value: str, description: str = "") -> None:
    with connect(conninfo) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('vault:' || %s))", [name])
                row = conn.execute(
                    "SELECT id FROM vault.secrets WHERE name = %s", [name]
                ).fetchone()
                if row:
                    conn.execute(
                        "SELECT vault.update_secret(%s, %s, %s, %s)",
                        [row[0], value, name, description],
                    )
                else:
                    conn.execute(
                        "SELECT vault.create_secret(%s, %s, %s)", [value, name, description]
                    )
        except psycopg.Error as exc:
            raise SupastackError(f"vault secret {name!r}: {exc.diag.message_primary}") from None


def delete_secret(conninfo: str, name: str) -> None:
    with connect(conninfo) as conn:
        conn.execute("DELETE FROM vault.secrets WHERE name = %s", [name])


def read_secret(conninfo: str, name: str) -> str | None:
    """The decrypted value Vault holds under ``name`` (None: no such secret)."""
    with connect(conninfo) as conn:
        row = conn.execute(
            "SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = %s", [name]
        ).fetchone()
    return None if row is None else str(row[0])


def holds(conninfo: str, name: str, value: str) -> bool | None:
    """Whether Vault holds ``value`` under ``name`` (None: no such secret); compared in SQL."""
    with connect(conninfo) as conn:
        row = conn.execute(
            "SELECT decrypted_secret = %s FROM vault.decrypted_secrets WHERE name = %s",
            [value, name],
        ).fetchone()
    return None if row is None else bool(row[0])
