"""The project's own migrations: every app's files apply to an empty database and their down
files undo them completely, newest first (the path a rollback takes)."""

from __future__ import annotations

import pytest
from psycopg import sql

from supastack.local.bootstrap import apply_bootstrap
from supastack.local.paths import PROJECT_DIR
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import discover_app
from tests.conftest import Services
from tests.core.conftest import Database

APPS = sorted(p.name for p in (PROJECT_DIR / "migrations").iterdir() if p.is_dir())
OBJECTS = (
    "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
    "where n.nspname = %s and c.relkind in ('r', 'v', 'S', 'i')"
)
FUNCTIONS = "select count(*) from pg_proc where pronamespace = to_regnamespace(%s)"


@pytest.mark.parametrize("app", APPS)
def test_migrations_apply_and_their_down_files_undo_them(
    services: Services, database: Database, app: str
) -> None:
    """On a database with Supabase's objects (auth.uid(), the API roles), as every target has."""
    apply_bootstrap(database.conninfo, services.credentials.authenticator_password)
    files = discover_app(PROJECT_DIR / "migrations", app)
    schema = "public" if app == "bidding" else app
    with database.connect() as conn:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        before = (
            conn.execute(OBJECTS, [schema]).fetchone(),
            conn.execute(FUNCTIONS, [schema]).fetchone(),
        )
    engine = MigrationEngine(database.conninfo)
    assert [f.version for f in engine.migrate(app, files)] == [f.version for f in files]
    for file in reversed(files):
        assert engine.revert(file).changed
    with database.connect() as conn:
        after = (
            conn.execute(OBJECTS, [schema]).fetchone(),
            conn.execute(FUNCTIONS, [schema]).fetchone(),
        )
        left = conn.execute(
            "select count(*) from supabase_migrations.schema_migrations where app = %s", [app]
        ).fetchone()
    assert after == before and left == (0,)
