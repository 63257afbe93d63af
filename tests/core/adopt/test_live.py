"""Adopting a live project set up by hand (``supastack adopt --stack``), against a real database:
the schema a guide's SQL made is compared with what the app's migrations make, recorded as
applied when it matches, shown as SQL when not (nothing run until accepted); a guide's policy
beside the stack's is blocking, and replaced by the stack's in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from supastack.adopt import live
from supastack.config.manifest import AppManifest
from supastack.database import rls
from supastack.database.schema_diff import Planned
from supastack.errors import SupastackError
from supastack.migrations.files import MigrationFile, discover_app
from supastack.operations import cron
from tests.conftest import write_migrations
from tests.core.conftest import Database

ITEMS = """\
create table shop.items (id bigint generated always as identity primary key,
  owner uuid not null, name text not null default '');
create index items_by_owner on shop.items (owner);
"""
MANIFEST = {
    "rls": ["items"],
    "policies": [{"name": "owners read", "table": "items", "command": "select",
                  "roles": ["authenticated"], "using": "owner = (select auth.uid())"}],
    "grants": [{"role": "authenticated", "objectType": "table", "objects": ["items"],
                "privileges": ["SELECT"]}],
}  # fmt: skip
#: What a team following a guide ran in the SQL editor: the table, a policy of the guide's own.
BY_HAND = """\
create schema shop;
create table shop.items (id bigint generated always as identity primary key,
  owner uuid not null, name text not null default '');
alter table shop.items enable row level security;
create policy "Enable read access for all users" on shop.items for select using (true);
grant usage on schema shop to authenticated;
grant select on shop.items to authenticated;
insert into shop.items (owner, name) values (gen_random_uuid(), 'kept');
"""


#: Supabase's auth.uid(), which the stack's policies call, as the platform has it.
AUTH_UID = (
    "create schema if not exists auth; create or replace function auth.uid() returns uuid "
    "language sql stable as $$ select null::uuid $$"
)


@pytest.fixture
def by_hand(database: Database) -> Database:
    database.execute(AUTH_UID)
    database.execute(BY_HAND)
    return database


def _app(tmp_path: Path) -> tuple[AppManifest, dict[str, list[MigrationFile]]]:
    manifest = AppManifest.model_validate({"app": "shop", "source": "apps/shop.yaml", **MANIFEST})
    migrations = write_migrations(tmp_path, "shop", {"20260101000000_items.sql": ITEMS})
    return manifest, {"shop": discover_app(migrations, "shop")}


def _sql(found: live.Survey) -> list[str]:
    return [
        s for d in found.differences
        for s in ((d.statement,) if isinstance(d, Planned) else d.statements)
    ]  # fmt: skip


def test_a_schema_made_by_hand_is_shown_what_differs_and_adopted_once_accepted(
    by_hand: Database, tmp_path: Path
) -> None:
    manifest, files = _app(tmp_path)

    found = live.survey(by_hand.conninfo, [manifest], files)

    # the guide never made the index the migration makes: shown, not run
    assert found.baseline == {"shop": files["shop"]} and found.recorded == {}
    assert [s for s in _sql(found) if "items_by_owner" in s], _sql(found)
    assert all("POLICY" not in s.upper() for s in _sql(found))  # access is the deploy's
    # the guide's policy is blocking: replaced by the stack's in one transaction
    [blocking] = found.blocking
    assert [u.object for u in blocking.found] == ["shop.items: Enable read access for all users"]
    assert blocking.statements == (
        'CREATE POLICY "owners read" ON "shop"."items" AS PERMISSIVE FOR SELECT TO '
        '"authenticated" USING (owner = (select auth.uid()))',
        'DROP POLICY "Enable read access for all users" ON "shop"."items";',
    )
    assert str(blocking).splitlines()[1:] == [
        "BEGIN;", f"  {blocking.statements[0]};", f"  {blocking.statements[1]}", "COMMIT;",
    ]  # fmt: skip
    assert by_hand.scalar("select to_regclass('shop.items_by_owner')") is None  # nothing ran
    assert by_hand.scalar("select to_regclass('supabase_migrations.schema_migrations')") is None

    live.accept(by_hand.conninfo, found)

    assert by_hand.scalar("select to_regclass('shop.items_by_owner') is not null")
    assert (
        by_hand.scalar(
            "select string_agg(policyname, ',') from pg_policies where schemaname = 'shop'"
        )
        == "owners read"
    )
    assert by_hand.scalar("select name from shop.items") == "kept"  # no row lost
    assert (
        by_hand.scalar(
            "select checksum from supabase_migrations.schema_migrations where app = 'shop'"
        )
        == files["shop"][0].checksum
    )
    # the deploy's RlsPolicy (adopt) takes the policy over: it is the declared one
    declared = rls.Policy.of_spec("shop", manifest.policies[0])
    assert rls.adopt_policy(by_hand.conninfo, declared) is not None

    again = live.survey(by_hand.conninfo, [manifest], files)
    assert (again.recorded, again.baseline, again.differences, again.blocking) == (
        {"shop": 1}, {}, [], []
    )  # fmt: skip


def test_a_schema_that_is_what_the_migrations_make_is_recorded_without_anything_run(
    by_hand: Database, tmp_path: Path
) -> None:
    by_hand.execute("create index items_by_owner on shop.items (owner)")
    manifest, files = _app(tmp_path)
    found = live.survey(by_hand.conninfo, [manifest], files)
    assert found.differences == []
    assert live.record_baseline(by_hand.conninfo, found.baseline) == 1
    assert live.survey(by_hand.conninfo, [manifest], files).recorded == {"shop": 1}


def test_files_added_since_the_guide_are_left_for_the_deploy_to_run_as_written(
    by_hand: Database, tmp_path: Path
) -> None:
    """The project matches the app's first file; the two added since (a column and the data
    it needs, a function) are not what it has: the first file is recorded, nothing is shown
    to run, and the deploy runs the others as written (the differ would have added the column
    without its data)."""
    by_hand.execute("create index items_by_owner on shop.items (owner)")
    manifest, files = _app(tmp_path)
    later = write_migrations(tmp_path, "shop", {
        "20260102000000_label.sql": "alter table shop.items add column label text;\n"
                                    "update shop.items set label = upper(name);\n",
        "20260103000000_count.sql": "create function shop.item_count() returns bigint language "
                                    "sql stable as $$ select count(*) from shop.items $$;\n",
    })  # fmt: skip
    files = {"shop": discover_app(later, "shop")}
    found = live.survey(by_hand.conninfo, [manifest], files)
    assert (found.baseline, found.differences) == ({"shop": files["shop"][:1]}, [])
    [note] = [n for n in found.notes if "closest" in n]
    assert note.endswith("the deploy runs the others (20260102000000_label, 20260103000000_count)")
    live.accept(by_hand.conninfo, found)
    assert live.survey(by_hand.conninfo, [manifest], files).recorded == {"shop": 1}
    assert by_hand.scalar("select to_regprocedure('shop.item_count()')") is None  # nothing ran


def test_a_guides_cron_job_is_named_by_what_differs_and_left_running_for_the_deploy(
    cron_db: str,
) -> None:
    """A guide's job of a declared name, its key written into the command: reported by the
    field that differs (never the command); accepting runs nothing on it (the declared command
    may read Vault secrets only the deploy makes: it would fail until then), and adopt run
    again with it accepted (supastack:adoptReplaces) finds it resolved, for the deploy to
    replace in place; a job that is already as declared is taken over as is."""
    key = "sk_live_hard_coded_in_the_guide"
    guide = cron.Job("test-cleanup", "*/5 * * * *", f"select '{key}'", "postgres")
    job_id = cron.schedule(cron_db, guide)
    declared = cron.Job("test-cleanup", "*/5 * * * *", "select 1", "postgres")
    alike = cron.Job("test-alike", "0 * * * *", "select 2", "postgres")
    cron.schedule(cron_db, alike)

    found = live.survey(cron_db, [], {}, [declared, alike])

    assert found.jobs_differing == {"test-cleanup": ["command"]}
    assert "test-alike" in found.jobs_taken_over and not found.resolved
    assert key not in repr(found)
    live.accept(cron_db, found)
    assert cron.read(cron_db, "test-cleanup") == guide  # still the guide's, running
    again = live.survey(cron_db, [], {}, [declared, alike], replacing=["test-cleanup"])
    assert again.resolved and again.jobs_replaced == ["test-cleanup"]
    assert cron.schedule(cron_db, declared) == job_id  # what the deploy does: in place


def test_accept_runs_nothing_when_a_difference_can_lose_data(
    by_hand: Database, tmp_path: Path
) -> None:
    """A column the migrations do not make is dropped by the differ's plan (DELETES_DATA):
    --accept refuses before running anything, naming the statement."""
    by_hand.execute("create index items_by_owner on shop.items (owner)")
    by_hand.execute("alter table shop.items add column note text")
    manifest, files = _app(tmp_path)
    found = live.survey(by_hand.conninfo, [manifest], files)
    with pytest.raises(SupastackError, match=r"(?s)can lose data; nothing was run.*DROP COLUMN"):
        live.accept(by_hand.conninfo, found)
    assert by_hand.scalar("select count(*) from pg_policies where schemaname = 'shop'") == 1
    assert by_hand.scalar("select to_regclass('supabase_migrations.schema_migrations')") is None
