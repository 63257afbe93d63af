"""Seed data per stack: ``seeds/<app>/*.sql``, as the Supabase CLI's ``seed.sql`` but per app.

On stacks that seed (``supastack:seed``; ``local`` by default, and the policy pack refuses it
on prod), each file runs after its app's migrations, in one transaction together with its
record in ``supabase_migrations.supastack_seeds``. The record holds the file's sha256: an
unchanged file does not run again; a changed one does (write seeds that can run twice, e.g.
``insert … on conflict do nothing``). Removing a file forgets it and leaves its rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from supastack.database.postgres import Connection, connect, lock_until_commit
from supastack.errors import SupastackError
from supastack.migrations import history
from supastack.migrations.files import migration_statements


@dataclass(frozen=True)
class SeedFile:
    app: str
    name: str
    source: str
    """The path shown in messages, e.g. ``seeds/shop/01_items.sql``."""
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(root: Path, app: str) -> list[SeedFile]:
    """The app's seed files in name order, each checked as a migration is (statements parse,
    no transaction control, not empty)."""
    directory = root / app
    files = []
    for path in sorted(directory.glob("*.sql")) if directory.is_dir() else []:
        source = f"{root.name}/{app}/{path.name}"
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SupastackError(f"{source}: not UTF-8 text") from None
        migration_statements(text, source)
        files.append(SeedFile(app, path.name, source, text))
    return files


def _ensure(conn: Connection) -> None:
    """The seeds' table (in the caller's transaction); one query when it exists."""
    found = conn.execute("SELECT to_regclass('supabase_migrations.supastack_seeds') IS NOT NULL")
    if found.fetchone() == (True,):
        return
    history.create_schema(conn)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS supabase_migrations.supastack_seeds ("
        "app text NOT NULL, file text NOT NULL, checksum text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (app, file))"
    )


def apply(conninfo: str, seed: SeedFile) -> bool:
    """Run the file unless its recorded checksum is this one; whether it ran."""
    with connect(conninfo, subject=seed.source) as conn, conn.transaction():
        lock_until_commit(conn, f"supastack.seeds:{seed.app}/{seed.name}")
        _ensure(conn)
        row = conn.execute(
            "SELECT checksum FROM supabase_migrations.supastack_seeds WHERE app = %s AND file = %s",
            [seed.app, seed.name],
        ).fetchone()
        if row is not None and row[0] == seed.checksum:
            return False
        for index, statement in enumerate(migration_statements(seed.sql, seed.source), 1):
            try:
                conn.execute(statement.text.encode())
            except psycopg.Error as exc:
                raise SupastackError(
                    f"{seed.source}:{statement.line}: statement {index} failed: "
                    f"{exc.diag.message_primary or exc} [{exc.sqlstate}]; the seed file's "
                    "transaction was rolled back"
                ) from None
        conn.execute(
            "INSERT INTO supabase_migrations.supastack_seeds (app, file, checksum) "
            "VALUES (%s, %s, %s) "
            "ON CONFLICT (app, file) DO UPDATE SET checksum = excluded.checksum, "
            "applied_at = now()",
            [seed.app, seed.name, seed.checksum],
        )
    return True


def forget(conninfo: str, app: str, name: str) -> None:
    """Drop the file's record (its rows stay: seed data is the app's to remove)."""
    with connect(conninfo, subject=f"seeds/{app}/{name}") as conn:
        if conn.execute("SELECT to_regclass('supabase_migrations.supastack_seeds')").fetchone() != (
            None,
        ):
            conn.execute(
                "DELETE FROM supabase_migrations.supastack_seeds WHERE app = %s AND file = %s",
                [app, name],
            )
