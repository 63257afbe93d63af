"""Database, Migrations and Access: the resource graph the Platform registers (mocks)."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pulumi
import pytest

from applier.errors import plain
from supastack.database import scram
from supastack.errors import SupastackError
from tests.unit.conftest import RecordingMocks, deploy_platform, make_project, one

MANIFEST = """\
extensions: [pg_cron, {name: citext}]
postgresSettings: {work_mem: 8MB}
realtime: [items]
roles:
  - {name: shop_worker, login: true}
grants:
  - {role: authenticated, objectType: schema, privileges: [USAGE]}
  - {role: authenticated, objectType: table, objects: [items], privileges: [SELECT]}
revokeDefaultGrants: [anon]
rls: [items]
policies:
  - name: owners read
    table: items
    command: select
    roles: [authenticated]
    using: owner = (select auth.uid())
"""
ITEMS = "create table shop.items (id bigint primary key, owner uuid);\n"
RLS = (
    "alter table shop.items enable row level security;\nalter table shop.items drop column owner;\n"
)
MIGRATIONS = {"1_items.sql": ITEMS, "2_rls.sql": RLS}


def test_database_extensions_schema_and_settings(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    deploy_platform(make_project(tmp_path, MANIFEST, MIGRATIONS))
    cron = one(pulumi_mocks, "postgresql:index/extension:Extension", "pg_cron")
    assert cron.inputs["schema"] == "pg_catalog"
    assert (
        one(pulumi_mocks, "postgresql:index/extension:Extension", "citext").inputs["schema"]
        == "extensions"
    )
    assert (
        one(pulumi_mocks, "postgresql:index/schema:Schema", "schema-shop").inputs["name"] == "shop"
    )
    pg_settings = one(pulumi_mocks, "pulumi-python:dynamic/database:PostgresSettings")
    assert pg_settings.inputs["values"] == {"work_mem": "8MB"}
    assert "conninfo" in pg_settings.secret_inputs


def test_migrations_are_chained_in_order_with_secret_connections(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    deploy_platform(make_project(tmp_path, MANIFEST, MIGRATIONS))
    first = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration", "shop-migrations-1")
    second = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration", "shop-migrations-2")
    assert second.dependencies == [first.urn]
    assert (first.inputs["version"], first.inputs["destructive"]) == ("1", False)
    assert (second.inputs["destructive"], second.inputs["down_destructive"]) == (True, False)
    assert "conninfo" in second.secret_inputs and "conninfo" in second.additional_secret_outputs
    assert second.inputs.get("backups") is None  # the stack does not enable backups
    assert not first.protect and not first.retain_on_delete


def test_access_chains_grants_revokes_defaults_and_guards_policies_with_rls(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    deploy_platform(make_project(tmp_path, MANIFEST, MIGRATIONS))
    grants = [
        r
        for r in pulumi_mocks.resources
        if r.typ
        in ("postgresql:index/grant:Grant", "postgresql:index/defaultPrivileges:DefaultPrivileges")
        and r.name.startswith("supastack-shop-")
    ]
    assert [g.name.removeprefix("supastack-shop-access-") for g in grants] == [
        "grant-0",
        "grant-1",
        "revoke-anon-table",
        "revoke-default-anon-table",
        "revoke-anon-sequence",
        "revoke-default-anon-sequence",
        "revoke-anon-function",
        "revoke-default-anon-function",
    ]
    for before, after in itertools.pairwise(grants):
        assert after.dependencies == [before.urn]  # one at a time: no concurrent GRANTs
    assert all(g.inputs["privileges"] == [] for g in grants[2:])

    role = one(pulumi_mocks, "postgresql:index/role:Role")
    assert role.inputs["login"] is True and "password" in role.secret_inputs
    # the role gets a SCRAM verifier of the generated password, never the plaintext
    password = plain(role.inputs["password"])
    assert password == scram.verifier("generated-password", b"saltsaltsaltsalt")
    rls = one(pulumi_mocks, "pulumi-python:dynamic/rls:RowLevelSecurity", "shop-")
    policy = one(pulumi_mocks, "pulumi-python:dynamic/rls:RlsPolicy")
    assert policy.inputs["name"] == "owners read" and rls.urn in policy.dependencies
    access = one(pulumi_mocks, "supastack:access:Access", "shop-")
    migrations = [
        r.urn
        for r in pulumi_mocks.resources
        if r.typ.endswith("migrations:Migration") and "shop-" in r.name
    ]
    assert sorted(access.dependencies) == sorted(migrations)  # tables exist before policies
    realtime = one(pulumi_mocks, "pulumi-python:dynamic/database:PublicationTables")
    assert realtime.inputs["tables"] == [["shop", "items"]]


def test_protected_stacks_protect_schema_and_migrations(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    deploy_platform(
        make_project(tmp_path, MANIFEST, MIGRATIONS),
        protect=True,
        migrations={"retainOnDelete": True},
        backups={"enabled": True},
    )
    assert one(pulumi_mocks, "postgresql:index/schema:Schema", "schema-shop").protect
    migration = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration", "shop-migrations-1")
    assert migration.protect and migration.retain_on_delete
    assert migration.inputs["backups"]["directory"] == str(tmp_path / "state" / "backups")


def test_lint_findings_are_warned_during_preview(
    pulumi_mocks: RecordingMocks, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        deploy_platform(make_project(tmp_path, MANIFEST, MIGRATIONS))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "migrations/shop/2_rls.sql:2: destructive: drops column shop.items.owner" in warnings
    assert not any("rls-not-enabled" in w for w in warnings)  # enabled by 2_rls.sql


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            "rls: []\npolicies: [{name: p, table: items, using: 'true'}]\n",
            r"apps/shop.yaml: policies.0.table: 'items' is not listed under rls",
        ),
        (
            "rls: [items]\npolicies: [{name: p, table: items, using: 'true); drop table x; --'}]\n",
            r"apps/shop.yaml: policies.0.using: .*",
        ),
        (
            "extensions: [{name: pg_cron, schema: public}]\n",
            r"apps/shop.yaml: extensions.0: schema: pg_cron must be installed in pg_catalog",
        ),
        (
            "rls: [items]\npolicies: [{name: p, table: items, command: insert, using: 'true'}]\n",
            r"policies.0: using: an insert policy takes only withCheck",
        ),
        (
            "grants: [{role: anon, objectType: tables, privileges: [SELECT]}]\n",
            r"apps/shop.yaml: grants.0.objectType: ",
        ),
        ("colour: blue\n", r"apps/shop.yaml: colour: is not a known key"),
        (
            "partitions: [{table: items, control: at, interval: 1 month}]\n",
            r"apps/shop.yaml: partitions: need the pg_partman extension",
        ),
        (
            "extensions: [pg_partman]\n"
            "partitions: [{table: items, control: at, interval: monthly}]\n",
            r"apps/shop.yaml: partitions.0.interval: 'monthly' is not a span such as '1 month'",
        ),
        (
            "extensions: [pg_partman]\npartitions: [{table: items, control: at, interval: 1 day, "
            "retention: 30 days, retentionMode: archive}]\n",
            r"apps/shop.yaml: partitions.0.retentionMode: ",
        ),
        (
            "extensions: [pg_partman]\npartitions: [{table: items, control: at, interval: 1 day}]\n"
            "grants: [{role: authenticated, objectType: table, privileges: [SELECT]}]\n",
            r"apps/shop.yaml: grants.0.objects: a grant to authenticated on every table of the "
            r"schema reaches each partition too",
        ),
        (
            "extensions: [pg_partman]\n"
            "partitions: [{table: items, control: at, interval: 1 day, maintenance: '* * *'}]\n",
            r"cron job 'partman-shop-items': schedule '\* \* \*': expected five fields",
        ),
        (
            "materializedViews: [{view: v, schedule: '1 2 3'}, {view: v, schedule: '@daily'}]\n",
            r"apps/shop.yaml: materializedViews: a view is listed twice",
        ),
        (
            "materializedViews: [{view: v, schedule: '@daily'}]\n"
            "cron: [{name: refresh-shop-v, schedule: '@daily', sql: 'select 1'}]\n",
            r"apps/shop.yaml: cron: job name 'refresh-shop-v' is also the name of the job "
            r"supastack schedules",
        ),
        (
            "schema: public\n",
            r"apps/shop.yaml: schema: an app owns its schema; public .* needs "
            r"publicSchemaReason",
        ),
    ],
)
def test_a_broken_manifest_names_the_file_and_key(
    pulumi_mocks: RecordingMocks, tmp_path: Path, manifest: str, message: str
) -> None:
    with pytest.raises(SupastackError, match=message):
        deploy_platform(make_project(tmp_path, manifest, MIGRATIONS))


def test_the_preview_reports_the_database_advisors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At preview the Platform runs `supastack db advisors` on the live database; one it cannot
    reach is said, and the preview goes on (tests/core/database/test_advisors.py has the
    findings)."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="supastack", stack="test", preview=True)
    try:
        with caplog.at_level(logging.WARNING):
            deploy_platform(make_project(tmp_path, MANIFEST, MIGRATIONS))
    finally:
        pulumi.runtime.reset_options()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        w.startswith("database advisors did not run: database advisors: cannot connect")
        for w in warnings
    ), warnings
