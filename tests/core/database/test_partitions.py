"""Partitioned tables with pg_partman against a real database: the PartitionSet provider, the
maintenance its pg_cron job runs, retention, and RLS on rows in every partition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from components.providers.database.partitions import PartitionSetProvider
from supastack.database import partitions
from supastack.database.partitions import PartitionSet
from supastack.delivery.verify import act_as
from supastack.errors import SupastackError
from tests.conftest import outs
from tests.core.conftest import Database

SCHEMA = (
    "create schema partman; create extension pg_partman schema partman; create schema shop; "
    "create table shop.events (id bigint generated always as identity, "
    "owner uuid not null, at timestamptz not null default now(), primary key (id, at)) "
    "partition by range (at); "
    "alter table shop.events enable row level security; "
    "create policy own on shop.events for select to authenticated using "
    "(owner = (current_setting('request.jwt.claims', true)::jsonb ->> 'sub')::uuid); "
    "grant usage on schema shop to anon, authenticated; "
    "grant select on shop.events to authenticated; "
    # Supabase-like default privileges: every new table open to the API roles
    "alter default privileges in schema shop grant all on tables to anon, authenticated"
)


@pytest.fixture
def events(database: Database) -> Iterator[Database]:
    database.execute(SCHEMA)
    yield database


def _props(database: Database, **overrides: Any) -> dict[str, Any]:
    return {
        "conninfo": database.conninfo, "schema": "shop", "table": "events", "control": "at",
        "interval": "1 month", "premake": 3, "retention": None, "retention_keep_table": True,
        **overrides,
    }  # fmt: skip


def _set(props: dict[str, Any]) -> PartitionSet:
    return PartitionSetProvider().typed(props).partitions()


def _children(database: Database) -> set[str]:
    with database.connect() as conn:
        rows = conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'shop.events'::regclass"
        ).fetchall()
    return {str(r[0]) for r in rows}


def _partition_of(database: Database, months_ahead: int) -> str:
    """Insert an event ``months_ahead`` from now; return the partition it landed in."""
    return str(
        database.scalar(
            "insert into shop.events (owner, at) values (gen_random_uuid(), "
            "now() + make_interval(months => %s)) returning tableoid::regclass::text",
            months_ahead,
        )
    )


def _table(name: str) -> sql.Identifier:
    """A ``shop.<partition>`` name as the database printed it, quoted."""
    return sql.Identifier("shop", name.removeprefix("shop."))


def _run(database: Database, statement: sql.Composed) -> Any:
    with database.connect() as conn:
        cursor = conn.execute(statement)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


def _maintain(database: Database, props: dict[str, Any]) -> None:
    """Run what the set's pg_cron job runs."""
    database.execute(partitions.maintenance_command(_set(props)))


def test_rows_for_future_months_land_in_premade_partitions(events: Database) -> None:
    props = _props(events)
    created = PartitionSetProvider().create(props)

    assert created.id == "shop.events"
    for ahead in (1, 2, 3):
        landed = _partition_of(events, ahead)
        assert landed.startswith("shop.events_p") and landed != "shop.events_default"
    assert _partition_of(events, 12) == "shop.events_default"  # beyond premake


def test_maintenance_makes_a_missing_partition_again(events: Database) -> None:
    """The newest premade partition is gone (as when maintenance did not run for a month)."""
    props = _props(events)
    PartitionSetProvider().create(props)
    future = _partition_of(events, 3)
    _run(events, sql.SQL("drop table {}").format(_table(future)))
    assert future.removeprefix("shop.") not in _children(events)

    _maintain(events, props)

    assert future.removeprefix("shop.") in _children(events)
    assert _partition_of(events, 3) == future


@pytest.mark.parametrize(("mode_keep", "kept"), [(False, False), (True, True)])
def test_retention_drops_or_detaches_old_partitions(
    events: Database, mode_keep: bool, kept: bool
) -> None:
    props = _props(events, retention="3 months", retention_keep_table=mode_keep)
    PartitionSetProvider().create(props)
    events.execute(
        "select partman.create_partition_time('shop.events', array[now() - interval '8 months'])"
    )
    old = str(
        events.scalar(
            "insert into shop.events (owner, at) values (gen_random_uuid(), "
            "now() - interval '8 months') returning tableoid::regclass::text"
        )
    )
    assert old.removeprefix("shop.") in _children(events)

    _maintain(events, props)

    assert old.removeprefix("shop.") not in _children(events)
    assert (events.scalar("select to_regclass(%s)", old) is not None) is kept
    if kept:  # detached, with its rows, and still closed to the API roles
        assert _run(events, sql.SQL("select count(*) from {}").format(_table(old))) == 1
        assert events.scalar("select has_table_privilege('anon', %s, 'select')", old) is False


def _visible(database: Database, role: str, table: str, user: str | None = None) -> int | str:
    with database.connect() as conn:
        try:
            with conn.transaction(force_rollback=True):
                act_as(conn, role, user)
                schema, name = table.split(".")
                query = sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))
                row = conn.execute(query).fetchone()
                return int(row[0]) if row else 0  # type: ignore[call-overload]
        except psycopg.Error as exc:
            return str(exc.sqlstate)


def test_the_parents_rls_and_grants_hold_for_rows_in_every_partition(events: Database) -> None:
    """Default privileges open every new table to the API roles; a partition read directly
    would skip the parent's policies. supastack closes each partition when it is made."""
    props = _props(events)
    PartitionSetProvider().create(props)
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    events.scalar(
        "insert into shop.events (owner, at) values (%s, now()), "
        "(%s, now() + interval '1 month'), (%s, now() + interval '2 months'), "
        "(%s, now() - interval '5 years') returning 1",
        alice, alice, bob, bob,
    )  # fmt: skip
    # maintenance makes the newest partition again
    _run(events, sql.SQL("drop table {}").format(_table(_partition_of(events, 3))))
    _maintain(events, props)
    children = sorted(_children(events))

    assert _visible(events, "authenticated", "shop.events", alice) == 2
    assert _visible(events, "authenticated", "shop.events", bob) == 2
    assert _visible(events, "anon", "shop.events") == "42501"
    for child in children:  # premade, default, and the one maintenance made
        assert _visible(events, "authenticated", f"shop.{child}", alice) == "42501", child
        assert _visible(events, "anon", f"shop.{child}") == "42501", child


def test_update_changes_premake_and_retention_and_read_reports_drift(events: Database) -> None:
    provider = PartitionSetProvider()
    olds = outs(provider.create(_props(events)))
    news = _props(events, premake=6, retention="12 months", retention_keep_table=False)

    assert provider.diff("shop.events", olds, news).changes
    provider.update("shop.events", olds, news)
    assert outs(provider.read("shop.events", news)) == news

    events.execute("update partman.part_config set premake = 2 where parent_table = 'shop.events'")
    assert outs(provider.read("shop.events", news))["premake"] == 2


def test_the_control_column_and_interval_cannot_change(events: Database) -> None:
    provider = PartitionSetProvider()
    olds = outs(provider.create(_props(events)))
    failures = provider.check(olds, _props(events, interval="1 day")).failures
    assert [(f.property, f.reason) for f in failures] == [
        (
            "interval",
            "partitions of shop.events: interval was '1 month' and is now '1 day'; pg_partman "
            "cannot change it for a registered table: partition a new table and move the rows "
            "in a migration",
        )
    ]
    assert provider.check(olds, _props(events, premake=5)).failures == []


def test_delete_unregisters_and_keeps_the_partitions_and_rows(events: Database) -> None:
    provider = PartitionSetProvider()
    props = outs(provider.create(_props(events)))
    _partition_of(events, 1)
    before = _children(events)

    provider.delete("shop.events", props)

    assert events.scalar("select count(*) from partman.part_config") == 0
    assert events.scalar("select to_regclass('partman.template_shop_events')") is None
    assert _children(events) == before
    assert events.scalar("select count(*) from shop.events") == 1
    assert provider.read("shop.events", props).id == ""  # refresh: gone
    provider.create(props)  # registering again finds the existing partitions
    assert _children(events) >= before


def test_a_table_that_is_not_partitioned_is_refused_and_nothing_registered(
    events: Database,
) -> None:
    events.execute("create table shop.plain (at timestamptz)")
    with pytest.raises(
        SupastackError,
        match=r"^partitions of shop.plain: shop.plain is not a partitioned table; create it in "
        r"a migration with PARTITION BY RANGE \(at\)$",
    ):
        PartitionSetProvider().create(_props(events, table="plain"))
    assert events.scalar("select count(*) from partman.part_config") == 0


def test_a_set_registered_by_hand_is_taken_over_alike_and_refused_otherwise(
    events: Database,
) -> None:
    """Adoption: a set a guide registered with ``create_parent`` is configured, not registered
    again (its partitions and rows stay); one registered by another interval is refused naming
    it, and its configuration is left as it was."""
    events.execute(
        "select partman.create_parent(p_parent_table := 'shop.events', p_control := 'at', "
        "p_type := 'native', p_interval := '1 month', p_premake := 2)"
    )
    _partition_of(events, 1)
    before = _children(events)

    taken = outs(PartitionSetProvider().create(_props(events, premake=5)))

    assert taken["premake"] == 5
    assert outs(PartitionSetProvider().read("shop.events", taken)) == taken
    assert _children(events) >= before
    assert events.scalar("select count(*) from shop.events") == 1

    events.execute("update partman.part_config set partition_interval = '1 day'")
    with pytest.raises(
        SupastackError,
        match=r"^partitions of shop.events: registered with pg_partman by at every 1 day, "
        r"declared by at every 1 month; pg_partman cannot change",
    ):
        PartitionSetProvider().create(_props(events, premake=7))
    assert events.scalar("select premake from partman.part_config") == 5
