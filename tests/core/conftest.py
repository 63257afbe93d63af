"""Core-test fixtures: a fresh database per test in the session's throwaway cluster."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from supastack.config.manifest import load_app
from supastack.functions.packaging import package
from supastack.functions.specs import FunctionSpec
from supastack.local.paths import PROJECT_DIR
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import discover_app
from tests.conftest import Services, project_file

#: The schema and table the providers' tests build on (tests/core/database, tests/core/migrations).
SHOP_SCHEMA = "shop"
SHOP_ITEMS = (
    "create schema shop;\ncreate table shop.items (id bigint primary key, owner uuid, name text);\n"
)


@dataclass
class Database:
    """An empty database of its own; ``conninfo`` holds the password (never print it)."""

    name: str
    conninfo: str = field(repr=False)

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.conninfo, autocommit=True)

    @property
    def url(self) -> str:
        """The same database as a postgresql:// URL (what SUPABASE_DB_URL holds)."""
        params = conninfo_to_dict(self.conninfo)
        password = quote(str(params["password"]), safe="")
        return (
            f"postgresql://{params['user']}:{password}@{params['host']}:{params['port']}/"
            f"{self.name}"
        )

    def execute(self, statement: str) -> None:
        with self.connect() as conn:
            conn.execute(statement.encode())

    def scalar(self, query: str, *params: object) -> Any:
        with self.connect() as conn:
            row = conn.execute(query.encode(), params or None).fetchone()
        return row[0] if row else None


@pytest.fixture
def database(services: Services) -> Iterator[Database]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with services.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield Database(name, make_conninfo(services.dsn(), dbname=name))
    with services.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


#: The monitoring app's migration that makes the table statistics private (on every stack).
STATISTICS_PRIVATE = (
    PROJECT_DIR / "migrations" / "monitoring" / "20260106000000_statistics_private.sql"
)


def apply_monitoring(conninfo: str) -> None:
    """The platform's monitoring app as a deploy leaves it: its extensions (pg_cron lives in
    the cron database, set up by the cluster), its schema, its migrations."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("create schema if not exists extensions")
        for extension in load_app(PROJECT_DIR, "monitoring").extensions:
            if extension.name != "pg_cron":
                for statement in extension.create_statements():
                    conn.execute(statement)
        conn.execute("create schema if not exists monitoring")
    files = discover_app(PROJECT_DIR / "migrations", "monitoring")
    MigrationEngine(conninfo).migrate("monitoring", files)


@pytest.fixture
def monitoring(database: Database) -> Database:
    """A database of its own with the platform's monitoring app applied."""
    apply_monitoring(database.conninfo)
    return database


@pytest.fixture
def cron_db(services: Services) -> Iterator[str]:
    """The cron database (`postgres`) with pg_cron; jobs a test leaves (named ``test-...``) are
    removed after it."""
    with services.connect() as conn:
        conn.execute("create extension if not exists pg_cron with schema pg_catalog")
    yield services.dsn()
    with services.connect() as conn:
        conn.execute("select cron.unschedule(jobid) from cron.job where jobname like 'test-%'")


def write_project(
    root: Path, services: Services, database: Database, apps: dict[str, str], extra: str = ""
) -> Path:
    """A project in ``root`` with ``apps`` (name: manifest) and the platform's own app, and a
    stack ``test`` pointing at this test's database (``extra``: more of its config lines)."""
    (root / "apps").mkdir()
    for name, manifest in apps.items():
        (root / "apps" / f"{name}.yaml").write_text(manifest)
    shutil.copy(PROJECT_DIR / "apps" / "monitoring.yaml", root / "apps")  # on every stack
    project_file(root)
    (root / "Pulumi.test.yaml").write_text(
        "# the team's stack\n"
        "config:\n"
        "  supastack:target: local  # where it deploys\n"
        f"  supastack:apps: [{', '.join(apps)}]\n"
        "  supastack:local:\n"
        f"    stateDir: {services.env.state_dir}\n"
        f"    dbPort: {services.env.db_port}\n"
        f"    runtimePort: {services.env.runtime_port}\n"
        "  supastack:database:\n"
        f"    name: {database.name}\n" + extra
    )
    return root


# -- a demo function behind the shared middleware ----------------------------------------

DEMO = """\
import { json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["user"] }, (_req, ctx) =>
  json(200, {
    code: "VERSION",
    user: ctx.caller.userId,
    greeting: Deno.env.get("DEMO_GREETING") ?? null,
    mode: ctx.config.env.MODE,
  }));
"""


@pytest.fixture
def functions_root(tmp_path: Path, services: Services) -> Path:
    """A project's functions/: the real _shared middleware, and the demo function."""
    root = tmp_path / "functions"
    shutil.copytree(PROJECT_DIR / "functions" / "_shared", root / "_shared")
    for name in ("deno.json", "deno.lock"):
        shutil.copy(PROJECT_DIR / "functions" / name, root)
    apply_monitoring(services.dsn())  # the runtime's SUPABASE_DB_URL: the postgres database
    return root


def demo_props(
    services: Services, root: Path, slug: str, version: str, **spec: Any
) -> dict[str, Any]:
    """The demo function's EdgeFunction props (its code saying ``version``), written to ``root``."""
    (root / "demo" / slug).mkdir(parents=True, exist_ok=True)
    (root / "demo" / slug / "index.ts").write_text(DEMO.replace("VERSION", version))
    function = FunctionSpec.model_validate({"env": {"MODE": "demo"}, **spec})
    pkg = package(root, "demo", slug, function.config(), function.verify_jwt)
    return {
        "api": {"url": services.runtime_url, "project_ref": "local"},
        "token": services.credentials.access_token,
        "functions_url": services.runtime_url,
        "app": "demo",
        "slug": slug,
        "hash": pkg.hash,
        "verify_jwt": function.verify_jwt,
        "files": pkg.text_files(),
    }
