"""Whole-schema drift against a real database: hand edits are reported, with SQL that undoes
them, next to a shadow database built in a throwaway cluster from the recorded migrations."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from supastack.config.manifest import AppManifest
from supastack.database import partitions
from supastack.database.partitions import PartitionSet
from supastack.database.schema_diff import _environment, _without_passwords
from supastack.database.schema_snapshot import Difference
from supastack.errors import SupastackError
from supastack.local import go_tools
from supastack.migrations.drift import build_expected, drift
from supastack.migrations.files import MigrationFile, discover_app
from tests.conftest import write_migrations
from tests.core.conftest import Database

ITEMS = """\
create table shop.items (id bigint generated always as identity primary key,
  owner uuid not null, name text not null default '', price numeric check (price >= 0));
create index items_by_owner on shop.items (owner);
create function shop.item_count(p_owner uuid) returns bigint language sql stable
  set search_path = '' as $$ select count(*) from shop.items where owner = p_owner $$;
create table shop.events (id bigint generated always as identity, at timestamptz not null,
  primary key (id, at)) partition by range (at);
alter table shop.events enable row level security;
"""
MANIFEST = {
    "extensions": ["pg_partman"],
    "rls": ["items", "events"],
    "policies": [{"name": "owners read", "table": "items", "command": "select",
                  "roles": ["authenticated"], "using": "owner = (select auth.uid())"}],
    "grants": [{"role": "authenticated", "objectType": "table", "objects": ["items"],
                "privileges": ["SELECT"]}],
    "partitions": [{"table": "events", "control": "at", "interval": "1 month"}],
}  # fmt: skip
HAND_EDITS = """\
grant usage on schema shop to anon;
grant execute on function shop.item_count(uuid) to anon;
alter table shop.items add column note text;
drop index shop.items_by_owner;
create or replace function shop.item_count(p_owner uuid) returns bigint language sql stable
  set search_path = '' as $$ select 42::bigint $$;
drop policy "owners read" on shop.items;
grant delete on shop.items to anon;
alter table shop.items alter column name drop default;
"""


def _deployed(
    database: Database, tmp_path: Path
) -> tuple[AppManifest, dict[str, list[MigrationFile]]]:
    """The app deployed to ``database`` as a deploy makes it, its table partitioned."""
    manifest = AppManifest.model_validate({"app": "shop", "source": "apps/shop.yaml", **MANIFEST})
    files = {
        "shop": discover_app(write_migrations(tmp_path, "shop", {"1_items.sql": ITEMS}), "shop")
    }
    database.execute(
        "create schema if not exists auth; create or replace function auth.uid() returns uuid "
        "language sql stable as $$ select null::uuid $$"
    )
    build_expected(database.conninfo, [manifest], files)
    partitions.register(
        database.conninfo, PartitionSet("shop", "events", "at", "1 month", premake=2)
    )
    return manifest, files


def test_a_deployed_app_has_no_drift_and_its_partitions_are_not_drift(
    database: Database, tmp_path: Path
) -> None:
    manifest, files = _deployed(database, tmp_path)
    found = drift(database.conninfo, [manifest], files)
    assert found.differences == [] and found.clean
    assert (
        database.scalar(
            "select count(*) from pg_inherits where inhparent = 'shop.events'::regclass"
        )
        >= 3
    )


def test_hand_edits_are_reported_with_the_sql_that_undoes_them(
    database: Database, tmp_path: Path
) -> None:
    """pg-schema-diff's plan undoes what it compares (with its hazards); supastack's snapshot
    what it does not (a schema's and a function's privileges here); the printed SQL runs and
    brings it all back."""
    manifest, files = _deployed(database, tmp_path)
    database.execute(HAND_EDITS)

    found = drift(database.conninfo, [manifest], files)

    assert found.compared_by == "pg-schema-diff and supastack's snapshot"
    script = "".join(str(d) for d in found.differences)
    for undo in [
        'ALTER TABLE "shop"."items" DROP COLUMN "note";',
        "CREATE INDEX CONCURRENTLY items_by_owner ON shop.items USING btree (owner);",
        "select count(*) from shop.items where owner = p_owner",  # the function's body back
        'CREATE POLICY "owners read" ON "shop"."items"',
        'REVOKE DELETE ON "shop"."items" FROM "anon";',
        """ALTER TABLE "shop"."items" ALTER COLUMN "name" SET DEFAULT ''::text;""",
        # not compared by pg-schema-diff:
        "REVOKE USAGE ON SCHEMA shop FROM anon;",
        "REVOKE EXECUTE ON FUNCTION shop.item_count(p_owner uuid) FROM anon;",
    ]:
        assert undo in script, f"{undo}\nnot in:\n{script}"
    assert "-- hazard DELETES_DATA: Deletes all values in the column" in script
    assert len(found.differences) == 8, script
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        for statement in found.differences:  # CONCURRENTLY: one statement at a time
            conn.execute(str(statement).encode())
    assert drift(database.conninfo, [manifest], files).clean


def test_without_go_the_snapshot_compares_everything_and_says_so(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, files = _deployed(database, tmp_path)
    database.execute(HAND_EDITS)

    def no_go() -> Path:
        raise SupastackError("building pg-schema-diff v1.0.5: the go command is missing")

    monkeypatch.setattr(go_tools, "ensure_schema_differ", no_go)
    found = drift(database.conninfo, [manifest], files)
    assert found.compared_by == (
        "supastack's snapshot alone (building pg-schema-diff v1.0.5: the go command is missing)"
    )
    assert {(d.kind, d.change) for d in found.differences if isinstance(d, Difference)} >= {
        ("column", "unexpected"), ("index", "missing"), ("function", "changed"),
        ("policy", "missing"), ("grant", "unexpected"), ("schema grant", "unexpected"),
    }  # fmt: skip


def test_the_differ_never_sees_a_password_on_its_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any user of the machine can read a process's arguments: the passwords go to the differ
    in a password file that exists only in memory; a PGPASSWORD set for the live database (the
    preview workflow's) is not passed on, or libpq would try it on the shadow too."""
    monkeypatch.setenv("PGPASSWORD", "live-password")
    assert _environment(7) == {
        **{k: v for k, v in os.environ.items() if k != "PGPASSWORD"},
        "PGPASSFILE": "/proc/self/fd/7",
    }
    lines, dsns = _without_passwords(
        ["host=db.example port=5432 dbname=postgres user=postgres password=s3cr:et",
         "postgresql://shadow:hunter2@127.0.0.1:6000/postgres"]
    )  # fmt: skip
    assert not any("s3cr" in dsn or "hunter2" in dsn for dsn in dsns)
    assert lines == [
        "db.example:5432:postgres:postgres:s3cr\\:et",  # the colon escaped
        "127.0.0.1:6000:postgres:shadow:hunter2",
    ]


def test_an_edited_recorded_migration_is_noted(database: Database, tmp_path: Path) -> None:
    manifest, _ = _deployed(database, tmp_path)
    edited = write_migrations(tmp_path, "shop", {"1_items.sql": ITEMS + "-- edited\n"})
    found = drift(database.conninfo, [manifest], {"shop": discover_app(edited, "shop")})
    assert found.differences == []
    assert found.notes == [
        "migrations/shop/1_items.sql: was edited after it was applied (checksum differs); the "
        "shadow database runs it as it is now"
    ]
    assert not found.clean
