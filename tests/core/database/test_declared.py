"""What the live database holds beside what the stack declares, against a real database: a
policy on an app's table the stack does not declare (a guide's, under another name) and an
extension in another schema are found, each with the SQL that resolves it, and nothing else."""

from __future__ import annotations

import pytest

from supastack.database.advisors import Level, advise
from supastack.database.declared import Declared, undeclared
from tests.core.conftest import Database

SCHEMA = """
create schema shop;
create table shop.orders (id bigint primary key, owner uuid);
alter table shop.orders enable row level security;
create policy "users read their orders" on shop.orders for select to authenticated
  using (owner = (select auth.uid()));
-- what a guide followed by hand left: a wider policy under another name, and a restrictive one
create policy "Enable read access for all users" on shop.orders for select using (true);
create policy "only recent" on shop.orders as restrictive for select to authenticated
  using (id > 0);
create schema extensions;
create extension hstore schema public;
-- another schema's policies are not the stack's business
create schema elsewhere;
create table elsewhere.notes (id bigint primary key);
alter table elsewhere.notes enable row level security;
create policy anything on elsewhere.notes using (true);
"""

DECLARED = Declared(
    schemas=frozenset({"shop"}),
    policies=frozenset({("shop", "orders", "users read their orders")}),
    extensions={"hstore": "extensions"},
)


@pytest.fixture
def guided(database: Database) -> Database:
    database.execute("create schema if not exists auth; create or replace function auth.uid() "
                     "returns uuid language sql as 'select null::uuid'")  # fmt: skip
    for role in ("anon", "authenticated"):
        database.execute(
            f"do $$ begin create role {role} nologin; exception when duplicate_object then "
            "null; end $$"
        )
    database.execute(SCHEMA)
    return database


def test_undeclared_policies_and_a_misplaced_extension_are_found_with_their_sql(
    guided: Database,
) -> None:
    found = undeclared(guided.conninfo, DECLARED)
    assert [(u.kind, u.object, u.remedy) for u in found] == [
        ("policy", "shop.orders: Enable read access for all users",
         'DROP POLICY "Enable read access for all users" ON "shop"."orders";'),
        ("policy", "shop.orders: only recent", 'DROP POLICY "only recent" ON "shop"."orders";'),
        ("extension", "hstore", 'ALTER EXTENSION "hstore" SET SCHEMA "extensions";'),
    ]  # fmt: skip
    assert "permissive: OR-ed with the stack's, it widens what they allow" in found[0].detail
    assert "SELECT to public" in found[0].detail
    assert "restrictive" in found[1].detail
    assert found[2].detail == "lives in schema public, the stack declares extensions"

    for item in found:  # the printed SQL resolves each, and only the stack's objects remain
        guided.execute(item.remedy)
    assert undeclared(guided.conninfo, DECLARED) == []
    assert guided.scalar("select count(*) from pg_policies where schemaname = 'shop'") == 1


def test_the_advisors_flag_them_given_what_the_stack_declares(guided: Database) -> None:
    flagged = {
        (f.level, f.name, f.object)
        for f in advise(guided.conninfo, exposed=["shop"], declared=DECLARED)
        if f.name.endswith("_not_as_declared")
    }
    assert flagged == {
        (Level.ERROR, "policy_not_as_declared", "shop.orders: Enable read access for all users"),
        (Level.ERROR, "policy_not_as_declared", "shop.orders: only recent"),
        (Level.WARN, "extension_not_as_declared", "hstore"),
    }
    # without the stack's declarations (a bare database), the check does not run
    assert not [f for f in advise(guided.conninfo, exposed=["shop"]) if "declared" in f.name]
