"""The database advisors against a real database: each documented check flags its bad pattern
and leaves the right way alone."""

from __future__ import annotations

import psycopg
import pytest

from supastack.database.advisors import ADVISORS, Level, advise, preview_report
from supastack.local.bootstrap import apply_bootstrap
from tests.conftest import Services
from tests.core.conftest import STATISTICS_PRIVATE, Database

BAD = """
create table public.open_t (id bigint primary key);
create table public.pol_t (id bigint primary key);
create policy p on public.pol_t for select using (true);
create view public.v_definer as select id from public.open_t;
grant select on public.v_definer to anon;
create view public.users_v as select id, email from auth.users;
grant select on public.users_v to authenticated;
create table public.meta_t (id bigint primary key, owner uuid);
alter table public.meta_t enable row level security;
create policy by_meta on public.meta_t for select to authenticated
  using ((select auth.jwt()) -> 'user_metadata' ->> 'team' = 'a');
create policy per_row on public.meta_t for update to authenticated using (owner = auth.uid());
create policy also_read on public.meta_t for select to authenticated using (owner is not null);
create function public.loose() returns int language sql as 'select 1';
create function public.definer() returns int language sql security definer
  set search_path = '' as 'select 1';
create extension hstore schema public;
create materialized view public.mv as select id from public.open_t;
grant select on public.mv to anon;
create index open_a on public.open_t (id);
create index open_b on public.open_t (id);
create table public.child_t (id bigint primary key, parent bigint references public.meta_t);
alter table public.child_t enable row level security;
"""

GOOD = """
create table public.safe_t (id bigint primary key, owner uuid);
alter table public.safe_t enable row level security;
create policy own on public.safe_t for select to authenticated
  using (owner = (select auth.uid()));
create view public.v_invoker with (security_invoker = true) as select id from public.safe_t;
grant select on public.v_invoker to anon;
create function public.pinned() returns int language sql set search_path = '' as 'select 1';
create function public.backend() returns int language sql security definer
  set search_path = '' as 'select 1';
revoke execute on function public.backend() from public, anon, authenticated;
create table public.safe_child (id bigint primary key, parent bigint references public.safe_t);
create index safe_child_parent on public.safe_child (parent);
alter table public.safe_child enable row level security;
create policy own on public.safe_child for select to authenticated using (true);
"""


@pytest.fixture
def supabase_like(services: Services, database: Database) -> Database:
    """A database with Supabase's objects (auth.users, the API roles), as every target has."""
    apply_bootstrap(database.conninfo, services.credentials.authenticator_password)
    return database


def test_each_advisor_flags_its_pattern(supabase_like: Database) -> None:
    supabase_like.execute(BAD)
    found = {(f.name, f.object) for f in advise(supabase_like.conninfo)}
    expected = {
        ("rls_disabled_in_public", "public.open_t"),
        ("policy_exists_rls_disabled", "public.pol_t"),
        ("security_definer_view", "public.v_definer"),
        ("auth_users_exposed", "public.users_v"),
        ("rls_references_user_metadata", "public.meta_t: by_meta"),
        ("function_search_path_mutable", "public.loose()"),
        ("security_definer_function_executable", "public.definer()"),
        ("extension_in_public", "hstore"),
        ("materialized_view_in_api", "public.mv"),
        ("auth_rls_initplan", "public.meta_t: per_row"),
        ("multiple_permissive_policies", "public.meta_t: SELECT for authenticated"),
        ("duplicate_index", "public.open_t"),
        ("unindexed_foreign_keys", "public.child_t: child_t_parent_fkey"),
        ("rls_enabled_no_policy", "public.child_t"),
    }
    assert expected <= found, expected - found
    # Postgres lets every role read every table's statistics (a fresh database, as BAD's)
    statistics = [o for name, o in found if name == "statistics_readable_by_api_roles"]
    assert len(statistics) == 1 and statistics[0].startswith("pg_catalog: ")
    named = {name for name, _ in expected} | {"statistics_readable_by_api_roles"}
    assert {a.name for a in ADVISORS} == named  # every advisor tested
    # hstore's own functions belong to the extension: never flagged
    assert not [o for name, o in found if name == "function_search_path_mutable" and "hstore" in o]


def test_the_right_way_is_not_flagged(supabase_like: Database) -> None:
    supabase_like.execute(STATISTICS_PRIVATE.read_text())
    supabase_like.execute(GOOD)
    flagged = [f for f in advise(supabase_like.conninfo) if f.level is not Level.INFO]
    assert flagged == []
    # the statistics the monitoring app's migration made private stay so for the API roles
    reader = "set role authenticated; select n_live_tup from pg_catalog.pg_stat_user_tables"
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pg_stat_user_tables"):
        supabase_like.execute(reader)


def test_the_exposed_schemas_are_what_the_data_api_serves(supabase_like: Database) -> None:
    supabase_like.execute("create schema api; create table api.t (id int);")
    assert not [f for f in advise(supabase_like.conninfo) if f.object == "api.t"]
    supabase_like.execute(
        f"alter database {supabase_like.name} set pgrst.db_schemas = 'public, api'"
    )
    flagged = [f.name for f in advise(supabase_like.conninfo) if f.object == "api.t"]
    assert flagged == ["rls_disabled_in_public"]


def test_the_preview_report_shows_errors_and_warnings_only(supabase_like: Database) -> None:
    supabase_like.execute(BAD)
    report = preview_report(supabase_like.conninfo)
    expected = "database advisors: ERROR rls_disabled_in_public: public.open_t: table is exposed"
    assert any(line.startswith(expected) for line in report), report
    assert not any(" INFO " in line for line in report)
