"""A Supabase CLI project, written as the Supabase CLI lays one out (``supabase/config.toml``,
``supabase/migrations``, ``supabase/functions/<slug>``, ``_shared``, ``seed.sql``), made an app
of the stack: what it translates, what it lists, and that it writes nothing when it cannot
finish."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from supastack.adopt.supabase_project import adopt
from supastack.cli import app
from supastack.config.manifest import load_app
from supastack.errors import SupastackError
from supastack.local.credentials import LocalCredentials
from tests.conftest import copy_platform_apps, project_file
from tests.unit.conftest import RecordingMocks, deploy_platform

CONFIG = """\
project_id = "shop-demo"

[api]
enabled = true
schemas = ["public", "graphql_public", "shop"]

[db]
port = 54322
major_version = 15

[db.seed]
enabled = true
sql_paths = ["./seed.sql"]

[auth]
site_url = "http://127.0.0.1:3000"

[functions.hello]
verify_jwt = false

[functions.orders]
import_map = "./functions/orders/deno.json"
"""
FILES = {
    "supabase/config.toml": CONFIG,
    "supabase/migrations/20240101000000_init.sql": (
        "create schema shop;\n"
        "create extension if not exists citext with schema extensions;\n"
        "create table shop.items (id bigint generated always as identity primary key, "
        "name extensions.citext not null);\n"
    ),
    "supabase/migrations/20240102000000_search.sql": "create extension pg_trgm;\n",
    "supabase/migrations/README.md": "notes, not a migration\n",
    "supabase/functions/_shared/cors.ts": (
        'export const cors = { "Access-Control-Allow-Origin": "*" };\n'
    ),
    "supabase/functions/hello/index.ts": (
        'import { cors } from "../_shared/cors.ts";\n'
        'Deno.serve(() => new Response("hello", { headers: cors }));\n'
    ),
    "supabase/functions/orders/index.ts": (
        'import { createClient } from "jsr:@supabase/supabase-js@2";\n'
        'import Stripe from "https://esm.sh/stripe@14.0.0?target=deno";\n'
        'import { z } from "zod";\n'
        "Deno.serve(() => Response.json({ ok: !!createClient && !!Stripe && !!z }));\n"
    ),
    "supabase/functions/orders/deno.json": '{"imports": {"zod": "npm:zod@3.23.8"}}\n',
    "supabase/seed.sql": "insert into shop.items (name) values ('first');\n",
}


def _supabase_project(root: Path, files: dict[str, str] = FILES) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    copy_platform_apps(root)
    project_file(root)
    LocalCredentials.generate().save(root / "state" / "credentials.json")
    return root


def test_a_supabase_cli_project_becomes_an_app(
    tmp_path: Path, project: Path, pulumi_mocks: RecordingMocks
) -> None:
    source = _supabase_project(tmp_path / "supabase-cli")
    done = adopt(source, project, "shop")

    manifest = yaml.safe_load((project / "apps" / "shop.yaml").read_text())
    assert manifest["schema"] == "shop"
    assert manifest["extensions"] == [{"name": "citext", "schema": "extensions"},
                                      {"name": "pg_trgm"}]  # fmt: skip
    assert manifest["functions"] == {
        "hello": {"verifyJwt": False,
                  "verifyJwtOffReason": "verify_jwt = false in [functions.hello] (adopted)"},
        "orders": {},
    }  # fmt: skip
    # the migrations as they are, versions kept (the history table is the Supabase CLI's)
    for name in ("20240101000000_init.sql", "20240102000000_search.sql"):
        copied = project / "migrations" / "shop" / name
        assert copied.read_text() == (source / "supabase" / "migrations" / name).read_text()
    assert done.migrations == ["20240101000000_init.sql", "20240102000000_search.sql"]
    functions = project / "functions" / "shop"
    assert '"../_lib/cors.ts"' in (functions / "hello" / "index.ts").read_text()
    assert (functions / "_lib" / "cors.ts").is_file()
    orders = (functions / "orders" / "index.ts").read_text()
    assert '"npm:@supabase/supabase-js@2"' in orders and '"npm:stripe@14.0.0"' in orders
    assert 'import { z } from "npm:zod@3.23.8";' in orders  # through its import map
    assert (project / "seeds" / "shop" / "seed.sql").read_text() == FILES["supabase/seed.sql"]

    assert any(line.startswith("[api]") for line in done.not_translated)
    assert any(line.startswith("[auth]") for line in done.not_translated)
    assert any("20240102000000_search.sql:1: CREATE EXTENSION pg_trgm without IF NOT EXISTS"
               in line for line in done.review)  # fmt: skip
    assert any("functions.hello.verifyJwtOffReason" in line for line in done.review)

    # the app is one the program deploys: its migrations, functions and seed become resources
    load_app(project, "shop")
    deploy_platform(project, seed=True)
    made = {(r.typ.rsplit(":", 1)[-1], r.name) for r in pulumi_mocks.resources}
    assert {("Migration", "supastack-shop-migrations-20240101000000"),
            ("EdgeFunction", "supastack-shop-fn-hello"),
            ("EdgeFunction", "supastack-shop-fn-orders"),
            ("SeedData", "supastack-shop-seed-seed")} <= made  # fmt: skip


def test_an_import_no_deploy_takes_is_named_for_review(tmp_path: Path, project: Path) -> None:
    files = {**FILES, "supabase/functions/orders/index.ts": (
        'import { serve } from "https://deno.land/std@0.168.0/http/server.ts";\nserve(() => '
        'new Response("ok"));\n'
    )}  # fmt: skip
    done = adopt(_supabase_project(tmp_path / "supabase-cli", files), project, "shop")
    assert any(line.startswith("function orders: functions/shop/orders/index.ts:1: import "
                               "'https://deno.land/std@0.168.0/http/server.ts' is not allowed")
               for line in done.review)  # fmt: skip


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"supabase/migrations/1_x.sql": "select 1;\n"},
         r"not a Supabase CLI project \(no supabase/config.toml\)"),
        ({**FILES, "supabase/config.toml": "project_id = \n"}, r"config.toml: not valid TOML"),
        ({**FILES, "supabase/migrations/20240103000000_bad.sql": "create tabel x;\n"},
         r"supabase/migrations/20240103000000_bad.sql:1: syntax error"),
        ({**FILES, "supabase/functions/2fast/index.ts": "Deno.serve(() => new Response());\n"},
         r"apps/shop.yaml \(made from .*\): functions.2fast: not a function slug"),
    ],
)  # fmt: skip
def test_bad_input_is_named_and_nothing_is_written(
    tmp_path: Path, project: Path, files: dict[str, str], message: str
) -> None:
    source = _supabase_project(tmp_path / "supabase-cli", files)
    with pytest.raises(SupastackError, match=message):
        adopt(source, project, "shop")
    assert not any((project / d / "shop").exists() for d in ("migrations", "functions", "seeds"))
    assert not (project / "apps" / "shop.yaml").exists()


def test_an_app_of_that_name_is_never_overwritten(tmp_path: Path, project: Path) -> None:
    source = _supabase_project(tmp_path / "supabase-cli")
    adopt(source, project, "shop")
    before = (project / "apps" / "shop.yaml").read_text()
    with pytest.raises(
        SupastackError,
        match=r"app 'shop': apps/shop.yaml, migrations/shop, "
        r"functions/shop, seeds/shop already exist",
    ):
        adopt(source, project, "shop")
    assert (project / "apps" / "shop.yaml").read_text() == before


def test_the_command_prints_what_it_made_and_what_it_left(tmp_path: Path, project: Path) -> None:
    source = _supabase_project(tmp_path / "supabase-cli")
    result = CliRunner().invoke(
        app, ["--cwd", str(project), "adopt", "supabase-project", str(source), "--app", "shop"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == ("app shop: apps/shop.yaml, 2 migration(s), 2 function(s) (hello, orders), "
                        "1 seed file(s)")  # fmt: skip
    assert any(line.startswith("not translated: [auth]") for line in lines)
    assert textwrap.dedent(lines[-1]).startswith("next: supastack preview --stack local")
