"""Whole-schema drift against a real database: hand edits are reported, with SQL that undoes
them, next to a shadow database built in a throwaway cluster from the recorded migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg

from supastack.config.manifest import AppManifest
from supastack.database import partitions
from supastack.database.partitions import PartitionSet
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
    manifest, files = _deployed(database, tmp_path)
    database.execute(HAND_EDITS)

    found = drift(database.conninfo, [manifest], files)

    assert {(d.kind, d.name, d.change) for d in found.differences} == {
        ("column", "shop.items.note", "unexpected"),
        ("index", "shop.items_by_owner", "missing"),
        ("function", "shop.item_count(p_owner uuid)", "changed"),
        ("policy", 'shop.items."owners read"', "missing"),
        ("grant", "TABLE shop.items to anon: DELETE", "unexpected"),
        ("column", "shop.items.name", "changed"),
    }
    script = "".join(str(d) for d in found.differences)
    assert "ALTER TABLE shop.items DROP COLUMN note;" in script
    assert "CREATE INDEX items_by_owner ON shop.items USING btree (owner);" in script
    assert "ALTER TABLE shop.items ALTER COLUMN name SET DEFAULT ''::text;" in script
    assert "REVOKE DELETE ON TABLE shop.items FROM anon;" in script
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        conn.execute(script.encode())  # the printed SQL runs, and brings the live one back
    assert drift(database.conninfo, [manifest], files).clean


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
