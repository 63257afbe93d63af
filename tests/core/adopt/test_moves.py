"""Adopting a guide's tables made in ``public`` for an app that keeps them in a schema of its own
(``supastack adopt --stack``), against a real database: the move (rows, privileges the stack
declares, a view under the old name), what a second move at once does, and a guide followed
part of the way recorded as far as it went."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from supastack.adopt import live, moves
from supastack.config.manifest import AppManifest
from supastack.errors import SupastackError
from supastack.migrations.files import MigrationFile, discover_app
from tests.conftest import write_migrations
from tests.core.adopt.test_live import AUTH_UID, ITEMS, MANIFEST
from tests.core.conftest import Database

#: The app's function over the table (the guide has its own in public).
COUNT = "create function shop.item_count() returns bigint language sql stable " \
        "as $$ select count(*) from shop.items $$;\n"  # fmt: skip
#: A later file the guide never had, which needs what the deploy makes first (another app's).
LATER = "create view shop.rules as select * from monitoring.alert_rules;\n"
#: The guide's SQL: the app's table in public, open to anon as the SQL editor's defaults leave
#: it, a function of the guide's over it, a row.
BY_HAND = """\
create table public.items (id bigint generated always as identity primary key,
  owner uuid not null, name text not null default '');
create index items_by_owner on public.items (owner);
alter table public.items enable row level security;
create policy "owners read" on public.items for select to authenticated
  using (owner = (select auth.uid()));
grant select, insert on public.items to anon;
grant select on public.items to authenticated;
create function public.item_count() returns bigint language sql stable
  as $$ select count(*) from public.items $$;
insert into public.items (owner, name) values (gen_random_uuid(), 'kept');
"""


@pytest.fixture
def guide(database: Database) -> Database:
    database.execute(AUTH_UID)
    for role in ("anon", "authenticated"):
        database.execute(
            f"do $$ begin create role {role} nologin; exception when duplicate_object then "
            "null; end $$"
        )
    database.execute(BY_HAND)
    return database


def _kind(database: Database) -> object:
    """What ``public.items`` is: a table (r) or, once moved, the view (v) left under its name."""
    items = "select relkind::text from pg_class where oid = 'public.items'::regclass"
    return database.scalar(items)


def _app(
    tmp_path: Path, *extra: tuple[str, str]
) -> tuple[AppManifest, dict[str, list[MigrationFile]]]:
    manifest = AppManifest.model_validate({"app": "shop", "source": "apps/shop.yaml", **MANIFEST})
    written = {
        "20260101000000_items.sql": ITEMS + "alter table shop.items enable row level security;\n",
        **dict(extra),
    }
    migrations = write_migrations(tmp_path, "shop", written)
    return manifest, {"shop": discover_app(migrations, "shop")}


def test_the_guides_tables_move_with_their_rows_under_the_stacks_privileges(
    guide: Database, tmp_path: Path
) -> None:
    manifest, files = _app(tmp_path, ("20260101000100_count.sql", COUNT))
    found = live.survey(guide.conninfo, [manifest], files)
    [move] = found.moves
    assert (move.tables, found.baseline, found.resolved) == (("items",), {}, False)
    assert [(g.grantee, g.privilege) for g in move.undeclared] == [
        ("anon", "INSERT"), ("anon", "SELECT"),
    ]  # fmt: skip
    assert move.contract() == ['DROP FUNCTION "public"."item_count"', 'DROP VIEW "public"."items"']
    assert guide.scalar("select to_regnamespace('shop')") is None  # shown, nothing run

    live.move(guide.conninfo, found.moves)

    assert guide.scalar("select name from shop.items") == "kept"  # the row, in its new schema
    assert _kind(guide) == "v"
    assert guide.scalar("select has_table_privilege('anon', 'shop.items', 'select')") is False
    assert guide.scalar("select has_table_privilege('authenticated', 'public.items', 'select')")
    assert guide.scalar("select public.item_count()") == 1  # the guide's function still answers
    # moved: the schema is now compared with what the migrations make: the table's file is
    # what the project has, the app's function is left for the deploy to make as written
    again = live.survey(guide.conninfo, [manifest], files)
    assert (again.moves, again.baseline, again.differences) == ([], {"shop": files["shop"][:1]}, [])
    assert [n for n in again.notes if n.startswith("view")] == [
        "view public.items stays from the move of app shop's tables: once nothing reads it "
        "(the functions redeployed), DROP VIEW public.items;"
    ]
    [closest] = [n for n in again.notes if "closest" in n]
    assert closest.endswith("the deploy runs the others (20260101000100_count)")


def test_a_second_move_at_once_fails_whole_and_names_the_app(
    guide: Database, tmp_path: Path
) -> None:
    """Two `adopt --accept` read the project before either moved: the second finds the tables
    gone and rolls back, changing nothing."""
    manifest, files = _app(tmp_path)
    first = live.survey(guide.conninfo, [manifest], files)
    second = live.survey(guide.conninfo, [manifest], files)
    live.move(guide.conninfo, first.moves)
    with pytest.raises(SupastackError, match=r"the move of app shop: .*nothing of it was applied"):
        live.move(guide.conninfo, second.moves)
    assert guide.scalar("select count(*) from shop.items") == 1
    assert _kind(guide) == "v"


def test_a_guide_followed_part_of_the_way_records_the_files_it_had(
    guide: Database, tmp_path: Path
) -> None:
    manifest, files = _app(tmp_path, ("20260102000000_count.sql", LATER))
    live.move(guide.conninfo, live.survey(guide.conninfo, [manifest], files).moves)
    found = live.survey(guide.conninfo, [manifest], files)
    assert found.baseline == {"shop": files["shop"][:1]} and found.differences == []
    [note] = [n for n in found.notes if "closest" in n]
    assert "closest to its first 1 of 2 migration files" in note
    assert 'relation "monitoring.alert_rules" does not exist' in note
    assert moves.app_tables("shop", files["shop"]) == ["items"]


def test_a_move_behind_a_long_transaction_gives_up_whole_instead_of_queueing_readers(
    guide: Database, tmp_path: Path
) -> None:
    """A transaction that read the table holds its lock: the move waits at most its
    lock_timeout, then fails naming the app, changing nothing (readers queued behind the move's
    lock would otherwise wait as long as that transaction)."""
    manifest, files = _app(tmp_path)
    [move] = live.survey(guide.conninfo, [manifest], files).moves
    with psycopg.connect(guide.conninfo) as reader:
        reader.execute("select count(*) from public.items")  # the transaction stays open
        with pytest.raises(SupastackError, match=r"the move of app shop: .*lock timeout"):
            live.move(guide.conninfo, [replace(move, lock_timeout="200ms")])
        reader.rollback()
    assert _kind(guide) == "r"
    assert guide.scalar("select to_regnamespace('shop')") is None
