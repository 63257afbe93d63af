"""The migration history table, shared with the Supabase CLI.

``supabase_migrations.schema_migrations`` is created exactly as the Supabase CLI creates it
(``version`` primary key, ``statements``, ``name``); supastack adds ``app``, ``checksum`` and
``applied_at`` with ``ADD COLUMN IF NOT EXISTS`` and never assumes the table has only the
columns it knows (the hosted platform adds its own). A second table records the backups
taken before destructive migrations, so a backup made by a down migration is findable too.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from supastack.database.postgres import Connection, lock_until_commit

SCHEMA = "supabase_migrations"
TABLE = "schema_migrations"

_COLUMNS = {
    "statements": "text[]",
    "name": "text",
    "app": "text",
    "checksum": "text",
    "applied_at": "timestamptz DEFAULT now()",
}


@dataclass(frozen=True)
class AppliedMigration:
    """A row of the history table (only the columns supastack reads)."""

    version: str
    name: str | None
    app: str | None
    checksum: str | None
    statements: list[str] | None


def _missing_columns(conn: Connection) -> list[str] | None:
    """Columns to add; None when the table itself does not exist."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped",
        [f"{SCHEMA}.{TABLE}"],
    ).fetchall()
    if not rows:
        return None
    present = {r[0] for r in rows}
    return [c for c in _COLUMNS if c not in present]


def ensure(conn: Connection) -> None:
    """Create the tables or add missing columns; a no-op (one query) when all is in place.

    Checking first keeps a no-op deploy from taking ACCESS EXCLUSIVE locks on the history.
    """
    missing = _missing_columns(conn)
    if missing == [] and conn.execute(
        "SELECT to_regclass('supabase_migrations.supastack_backups') IS NOT NULL"
    ).fetchone() == (True,):
        return
    with conn.transaction():
        create_schema(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations "
            "(version text NOT NULL PRIMARY KEY)"
        )
        for column, kind in _COLUMNS.items():
            conn.execute(
                sql.SQL(
                    "ALTER TABLE supabase_migrations.schema_migrations "
                    "ADD COLUMN IF NOT EXISTS {} {}"
                ).format(
                    sql.Identifier(column),
                    sql.SQL(kind),
                )
            )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS supabase_migrations.supastack_backups ("
            "key text PRIMARY KEY, app text, version text NOT NULL, direction text NOT NULL, "
            "taken_at timestamptz NOT NULL DEFAULT now())"
        )


def create_schema(conn: Connection) -> None:
    """``supabase_migrations``, in the caller's transaction, one session at a time: ``CREATE
    ... IF NOT EXISTS`` of one schema or table in two sessions at once fails one of them with a
    unique violation (the real engine runs independent migrations and seeds in parallel, and
    did). The lock is held until the transaction ends, over the caller's table creation too."""
    lock_until_commit(conn, SCHEMA_LOCK)
    conn.execute("CREATE SCHEMA IF NOT EXISTS supabase_migrations")


SCHEMA_LOCK = "supastack.supabase_migrations"


def read(conn: Connection, app: str) -> list[AppliedMigration]:
    """The rows of ``app`` and the rows no app claims (applied by the Supabase CLI)."""
    missing = _missing_columns(conn)
    if missing is None:
        return []
    app_expr = "NULL::text" if "app" in missing else "app"
    checksum_expr = "NULL::text" if "checksum" in missing else "checksum"
    query = sql.SQL(
        "SELECT version, name, {app}, {checksum}, statements "
        "FROM supabase_migrations.schema_migrations WHERE {app} = %s OR {app} IS NULL"
    ).format(app=sql.SQL(app_expr), checksum=sql.SQL(checksum_expr))
    return [AppliedMigration(*row) for row in conn.execute(query, [app])]


def record(
    conn: Connection, app: str, version: str, *, name: str, checksum: str, statements: list[str]
) -> bool:
    """Insert (or adopt an unclaimed row for) an applied migration; False if another app has it."""
    cursor = conn.execute(
        "INSERT INTO supabase_migrations.schema_migrations "
        "(version, name, statements, app, checksum) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (version) DO UPDATE SET app = EXCLUDED.app, checksum = EXCLUDED.checksum "
        "WHERE schema_migrations.app IS NULL RETURNING version",
        [version, name, statements, app, checksum],
    )
    return cursor.fetchone() is not None


# The statements below are composed with literals, not sent with parameters: the engine sends
# them in one round trip with the COMMIT of the file they record.


def insert_statement(
    app: str, version: str, *, name: str, checksum: str, statements: list[str]
) -> sql.Composed:
    """The row of a newly applied migration (a row with its version fails: unique key)."""
    return sql.SQL(
        "INSERT INTO supabase_migrations.schema_migrations "
        "(version, name, statements, app, checksum) VALUES ({}, {}, {}, {}, {})"
    ).format(*map(sql.Literal, (version, name, statements, app, checksum)))


def forget_statement(app: str, version: str) -> sql.Composed:
    return sql.SQL(
        "DELETE FROM supabase_migrations.schema_migrations WHERE version = {} AND app = {}"
    ).format(sql.Literal(version), sql.Literal(app))


def backup_statement(key: str, app: str, version: str, direction: str) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO supabase_migrations.supastack_backups (key, app, version, direction) "
        "VALUES ({}, {}, {}, {})"
    ).format(*map(sql.Literal, (key, app, version, direction)))
