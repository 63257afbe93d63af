"""The migration engine against a real database: every rule (order, history, edits, timeouts,
reverts, missing files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supastack.errors import SupastackError
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.states import EngineOptions, State
from tests.core.conftest import Database
from tests.core.migrations.shop_migrations import APP, FIRST, SECOND, shop_files, states_of


def test_applies_pending_files_in_order_and_records_them(
    database: Database, tmp_path: Path
) -> None:
    files = shop_files(tmp_path, {"2_price.sql": SECOND, "1_items.sql": FIRST})
    engine = MigrationEngine(database.conninfo)

    applied = engine.migrate(APP, files)

    assert [f.version for f in applied] == ["1", "2"]
    assert database.scalar("select price from shop.items where id = 1") == 2
    with database.connect() as conn:
        rows = conn.execute(
            "select version, name, app, checksum, statements "
            "from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    assert rows[0][:4] == ("1", "items", APP, files[0].checksum)
    assert rows[0][4] == [
        "create schema shop",
        "create table shop.items (id bigint primary key, name text)",
    ]
    assert engine.migrate(APP, files) == []
    assert states_of(engine, files) == {"1": State.APPLIED, "2": State.APPLIED}


def test_status_reads_without_creating_anything(database: Database, tmp_path: Path) -> None:
    files = shop_files(tmp_path, {"1_items.sql": FIRST})
    assert states_of(MigrationEngine(database.conninfo), files) == {"1": State.PENDING}
    assert database.scalar("select to_regnamespace('supabase_migrations')") is None


def test_adopts_rows_of_the_supabase_cli_and_tolerates_unknown_columns(
    database: Database, tmp_path: Path
) -> None:
    files = shop_files(tmp_path, {"1_items.sql": FIRST, "2_price.sql": SECOND})
    with database.connect() as conn:
        conn.execute(FIRST.encode())
        conn.execute(
            "create schema supabase_migrations; create table supabase_migrations.schema_migrations "
            "(version text not null primary key, statements text[], name text, created_by text, "
            "idempotency_key text)"
        )
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, name, statements, "
            "created_by) values ('1', 'items', %s, 'supabase-cli')",
            [["create schema shop", "create table shop.items (id bigint primary key, name text)"]],
        )
    engine = MigrationEngine(database.conninfo)
    assert states_of(engine, files) == {"1": State.APPLIED, "2": State.PENDING}

    assert [f.version for f in engine.migrate(APP, files)] == ["2"]

    with database.connect() as conn:
        row = conn.execute(
            "select app, checksum, created_by from supabase_migrations.schema_migrations "
            "where version = '1'"
        ).fetchone()
    assert row == (APP, files[0].checksum, "supabase-cli")


def test_an_edited_applied_file_is_refused_by_name(database: Database, tmp_path: Path) -> None:
    engine = MigrationEngine(database.conninfo)
    engine.migrate(APP, shop_files(tmp_path, {"1_items.sql": FIRST}))
    edited = shop_files(
        tmp_path,
        {"1_items.sql": FIRST + "create index on shop.items (name);\n", "2_price.sql": SECOND},
    )

    with pytest.raises(
        SupastackError, match=r"migrations/shop/1_items.sql: was edited after it was applied"
    ):
        engine.migrate(APP, edited)

    assert states_of(engine, edited) == {"1": State.EDITED, "2": State.PENDING}
    assert (
        database.scalar(
            "select count(*) from information_schema.columns where column_name = 'price'"
        )
        == 0
    )


def test_an_out_of_order_file_is_refused_unless_the_stack_allows_it(
    database: Database, tmp_path: Path
) -> None:
    MigrationEngine(database.conninfo).migrate(
        APP, shop_files(tmp_path, {"1_items.sql": FIRST, "3_price.sql": SECOND})
    )
    late = shop_files(tmp_path, {"2_late.sql": "create table shop.late (id bigint);\n"})

    with pytest.raises(
        SupastackError, match=r"2_late.sql: version 2 sorts before the last applied"
    ):
        MigrationEngine(database.conninfo).migrate(APP, late)

    allowed = MigrationEngine(database.conninfo, EngineOptions(allow_out_of_order=True))
    assert [f.version for f in allowed.migrate(APP, late)] == ["2"]


def test_a_failing_statement_rolls_back_its_file_and_names_the_statement(
    database: Database, tmp_path: Path
) -> None:
    broken = (
        "create table shop.orders (id bigint);\n\n"
        "insert into shop.orders\n  values ('not a number');\n"
    )
    files = shop_files(tmp_path, {"1_items.sql": FIRST, "2_orders.sql": broken})

    with pytest.raises(SupastackError) as failure:
        MigrationEngine(database.conninfo).migrate(APP, files)

    message = str(failure.value)
    assert message.startswith(
        "migrations/shop/2_orders.sql:4: statement 2 failed: invalid input syntax"
    )
    assert "insert into shop.orders" in message
    assert database.scalar("select to_regclass('shop.orders')") is None
    assert database.scalar("select to_regclass('shop.items')") is not None
    assert states_of(MigrationEngine(database.conninfo), files) == {
        "1": State.APPLIED,
        "2": State.PENDING,
    }


def test_statement_timeout_stops_a_slow_file(database: Database, tmp_path: Path) -> None:
    files = shop_files(tmp_path, {"1_slow.sql": "select pg_sleep(5);\n"})
    engine = MigrationEngine(database.conninfo, EngineOptions(statement_timeout="100ms"))
    with pytest.raises(SupastackError, match=r"statement_timeout is 100ms"):
        engine.migrate(APP, files)


def test_lock_timeout_gives_up_on_a_locked_table(database: Database, tmp_path: Path) -> None:
    MigrationEngine(database.conninfo).migrate(APP, shop_files(tmp_path, {"1_items.sql": FIRST}))
    files = shop_files(tmp_path, {"2_price.sql": SECOND})
    with database.connect() as holder, holder.transaction():
        holder.execute("lock table shop.items in access share mode")
        engine = MigrationEngine(database.conninfo, EngineOptions(lock_timeout="100ms"))
        with pytest.raises(
            SupastackError, match=r"2_price.sql:1: statement 1 failed.*lock_timeout is 100ms"
        ):
            engine.migrate(APP, files)


def test_revert_runs_the_down_file_and_forgets_the_migration(
    database: Database, tmp_path: Path
) -> None:
    files = shop_files(
        tmp_path,
        {
            "1_items.sql": FIRST,
            "2_price.sql": SECOND,
            "2_price.down.sql": "alter table shop.items drop column price;\n",
        },
    )
    engine = MigrationEngine(database.conninfo)
    engine.migrate(APP, files)

    assert engine.revert(files[1]).changed
    assert engine.revert(files[1]).changed is False  # already reverted: nothing to do
    assert states_of(engine, files) == {"1": State.APPLIED, "2": State.PENDING}
    assert (
        database.scalar(
            "select count(*) from information_schema.columns where column_name = 'price'"
        )
        == 0
    )

    with pytest.raises(
        SupastackError,
        match=r"1_items.sql: cannot be reverted, it has no down file; add .*1_items.down.sql",
    ):
        engine.revert(files[0])
    assert states_of(engine, files)["1"] is State.APPLIED


def test_a_missing_file_of_an_applied_migration_is_refused(
    database: Database, tmp_path: Path
) -> None:
    engine = MigrationEngine(database.conninfo)
    engine.migrate(APP, shop_files(tmp_path, {"1_items.sql": FIRST}))
    (tmp_path / "migrations" / APP / "1_items.sql").unlink()
    with pytest.raises(
        SupastackError, match=r"migration 1_items is applied but its file is missing"
    ):
        engine.migrate(APP, shop_files(tmp_path, {"2_price.sql": SECOND}))
