"""The App component alone, from one app's plan: what waits for what inside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pulumi

from components.app import App
from supastack.config import settings
from supastack.local.paths import PROJECT_DIR
from supastack.local.system import free_port
from supastack.plan.stack import plan_stack
from tests.unit.components.conftest import build, secret
from tests.unit.conftest import RecordingMocks, make_project, one

MANIFEST = """\
rls: [items]
realtime: [items]
functions: {hello: {}}
secrets: [{name: JOB_SECRET, generate: true, vault: true}]
cron: [{name: nightly, schedule: '0 2 * * *', function: {slug: hello}}]
alerts: [{name: slow, severity: warning, metric: {functionP95Ms: hello}, threshold: 500}]
"""


def _build_app(root: Path, tmp_path: Path, secrets: pulumi.Resource | None) -> None:
    """The App of the project's ``shop``, planned for a local stack, built under the mocks."""
    stack = settings.parse(
        "test",
        {"supastack:target": "local", "supastack:apps": ["shop"],
         "supastack:local": {"stateDir": str(tmp_path / "state"), "dbPort": free_port()}},
        "Pulumi.test.yaml",
    )  # fmt: skip
    planned = next(a for a in plan_stack(stack, root).apps if a.manifest.app == "shop")
    build(lambda: App("shop", {
        "plan": planned, "conninfo": secret(), "database": "postgres",
        "migration_settings": stack.migrations, "backups": None, "protect": False, "adopt": False,
        "adopt_replaces": frozenset(), "adopt_imports": settings.AdoptImports(),
        "functions_url": "http://fn", "api": {"url": "http://api", "project_ref": "local"},
        "token": secret(), "secrets": secrets, "cron_conninfo": secret(), "alert_channels": [],
    }))  # fmt: skip


def test_everything_of_an_app_waits_for_what_it_uses(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = make_project(tmp_path, MANIFEST, {"1_items.sql": "create table shop.items (n int);\n"})
    shutil.copytree(PROJECT_DIR / "functions" / "_shared", root / "functions" / "_shared")
    (root / "functions" / "shop" / "hello").mkdir(parents=True)
    (root / "functions" / "shop" / "hello" / "index.ts").write_text(
        'import { json, serve } from "../../_shared/mod.ts";\nserve(import.meta.url, {}, () => '
        "json(200, {}));\n"
    )
    (root / "seeds" / "shop").mkdir(parents=True)
    (root / "seeds" / "shop" / "01.sql").write_text("insert into shop.items values (1);\n")
    _build_app(root, tmp_path, pulumi.CustomResource("test:index:Secrets", "secrets", {}))
    migration = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration")
    function = one(pulumi_mocks, "pulumi-python:dynamic/functions:EdgeFunction")
    job = one(pulumi_mocks, "pulumi-python:dynamic/cron:CronJob")
    rule = one(pulumi_mocks, "pulumi-python:dynamic/alerts:AlertRule")
    seed = one(pulumi_mocks, "pulumi-python:dynamic/seeds:SeedData")
    realtime = one(pulumi_mocks, "pulumi-python:dynamic/database:PublicationTables")
    rls = one(pulumi_mocks, "pulumi-python:dynamic/rls:RowLevelSecurity")
    secrets_urn = next(r.urn for r in pulumi_mocks.resources if r.name == "secrets")
    assert {migration.urn, secrets_urn} <= set(function.dependencies)
    assert {migration.urn, secrets_urn, function.urn} <= set(job.dependencies)
    assert {migration.urn, function.urn} <= set(rule.dependencies)
    assert {migration.urn, rls.urn} <= set(seed.dependencies)
    assert migration.urn in realtime.dependencies
    # RLS and policies wait through their parent, the Access component, which waits for them
    access = one(pulumi_mocks, "supastack:access:Access")
    assert migration.urn in access.dependencies and rls.urn.startswith(
        "urn:pulumi:test::supastack::supastack:access:Access$"
    )


STORAGE = """\
extensions: [pg_partman]
rls: [events]
partitions: [{table: events, control: at, interval: 1 month, retention: 90 days}]
materializedViews: [{view: daily, schedule: '*/15 * * * *', concurrently: true}]
"""


def test_partitions_and_refreshes_wait_for_their_tables_and_maintenance_for_the_set(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = make_project(
        tmp_path,
        STORAGE,
        {
            "1_events.sql": "create table shop.events (at timestamptz) partition by range (at);\n"
            "alter table shop.events enable row level security;\n"
        },
    )
    _build_app(root, tmp_path, None)
    migration = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration")
    rls = one(pulumi_mocks, "pulumi-python:dynamic/rls:RowLevelSecurity")  # in Access
    registered = one(pulumi_mocks, "pulumi-python:dynamic/database:PartitionSet")
    maintenance = one(pulumi_mocks, "pulumi-python:dynamic/cron:CronJob")
    refresh = one(pulumi_mocks, "pulumi-python:dynamic/database:MaterializedViewRefresh")
    assert {migration.urn, rls.urn} <= set(registered.dependencies)
    assert registered.urn in maintenance.dependencies
    assert migration.urn in refresh.dependencies
    assert (registered.inputs["interval"], registered.inputs["retention"]) == ("1 month", "90 days")
    assert maintenance.inputs["name"] == "partman-shop-events"
    assert "partman.run_maintenance(''shop.events'')" in maintenance.inputs["command"]
    assert refresh.inputs["command"] == 'REFRESH MATERIALIZED VIEW CONCURRENTLY "shop"."daily"'
