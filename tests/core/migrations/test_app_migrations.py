"""The project's own migrations: every app's files apply to an empty database (with the app's
extensions and the apps it uses in place, as the program orders them) and their down files
undo them completely, newest first (the path a rollback takes)."""

from __future__ import annotations

import pytest
from psycopg import sql

from supastack.config.manifest import load_app
from supastack.local.bootstrap import apply_bootstrap
from supastack.local.paths import PROJECT_DIR
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import discover_app
from supastack.plan.graph import uses
from tests.conftest import Services
from tests.core.conftest import Database

APPS = sorted(p.name for p in (PROJECT_DIR / "migrations").iterdir() if p.is_dir())
OBJECTS = (
    "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
    "where n.nspname = %s and c.relkind in ('r', 'v', 'S', 'i')"
)
#: Extensions only one database of the cluster can have (pg_cron: cron.database_name).
CLUSTER_WIDE = {"pg_cron"}
FUNCTIONS = "select count(*) from pg_proc where pronamespace = to_regnamespace(%s)"


@pytest.mark.parametrize("app", APPS)
def test_migrations_apply_and_their_down_files_undo_them(
    services: Services, database: Database, app: str
) -> None:
    """On a database with Supabase's objects (auth.uid(), the API roles), as every target has."""
    apply_bootstrap(database.conninfo, services.credentials.authenticator_password)
    manifest = load_app(PROJECT_DIR, app)
    schema = manifest.schema_name
    engine = MigrationEngine(database.conninfo)
    with database.connect() as conn:
        for extension in manifest.extensions:
            if extension.name in CLUSTER_WIDE:
                continue
            for statement in extension.create_statements():
                conn.execute(statement)
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    for used in uses(manifest):
        used_schema = sql.Identifier(load_app(PROJECT_DIR, used).schema_name)
        with database.connect() as conn:
            conn.execute(sql.SQL("create schema if not exists {}").format(used_schema))
        engine.migrate(used, discover_app(PROJECT_DIR / "migrations", used))
    files = discover_app(PROJECT_DIR / "migrations", app)
    with database.connect() as conn:
        before = (
            conn.execute(OBJECTS, [schema]).fetchone(),
            conn.execute(FUNCTIONS, [schema]).fetchone(),
        )
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
