"""``-- supastack:no-transaction`` files against a real database: a concurrent index build that
lets writes through, and the INVALID index a failed or interrupted build leaves behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from supastack.errors import SupastackError
from supastack.migrations.engine import LOCK_KEY, MigrationEngine
from supastack.migrations.files import MigrationFile, discover_app
from supastack.migrations.states import EngineOptions, Outcome, State
from tests.conftest import wait_until, write_migrations
from tests.core.conftest import Database

APP = "shop"
TABLE = (
    "create schema shop;\n"
    "create table shop.orders (id bigint generated always as identity primary key, "
    "customer int not null);\n"
    "insert into shop.orders (customer) select g % 100 from generate_series(1, 20000) g;\n"
)
INDEX = (
    "-- supastack:no-transaction\n"
    "create index concurrently orders_by_customer on shop.orders (customer);\n"
)
UNIQUE_INDEX = (
    "-- supastack:no-transaction\n"
    "create unique index concurrently orders_by_customer on shop.orders (customer);\n"
)
DROP_INDEX = "-- supastack:no-transaction\ndrop index concurrently shop.orders_by_customer;\n"


def _files(tmp_path: Path, files: dict[str, str]) -> list[MigrationFile]:
    return discover_app(write_migrations(tmp_path, APP, files), APP)


def _index_state(database: Database) -> str:
    """'absent', 'invalid' or 'valid' for shop.orders_by_customer."""
    valid = database.scalar(
        "select indisvalid from pg_index where indexrelid = to_regclass('shop.orders_by_customer')"
    )
    return "absent" if valid is None else "valid" if valid else "invalid"


@dataclass
class Background:
    """An engine call running in a thread, with its backend pid once it is building."""

    thread: threading.Thread
    result: list[Outcome] = field(default_factory=list)
    error: list[BaseException] = field(default_factory=list)

    def join(self) -> None:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


def _apply_in_background(engine: MigrationEngine, file: MigrationFile) -> Background:
    background = Background(threading.Thread())

    def run() -> None:
        try:
            background.result.append(engine.apply(file))
        except BaseException as exc:
            background.error.append(exc)

    background.thread = threading.Thread(target=run)
    background.thread.start()
    return background


def _building_pid(database: Database) -> int:
    """The backend building the index, once it waits for the writer the test holds open."""
    return int(
        wait_until(
            lambda: database.scalar(
                "select pid from pg_stat_progress_create_index "
                "where phase like 'waiting for writers%'"
            ),
            timeout=30,
        )
    )


@contextmanager
def _open_writer(database: Database) -> Iterator[None]:
    """A transaction that has written to shop.orders and stays open: a concurrent build waits
    for it to end before building (its first phase), which holds the build mid-way."""
    with database.connect() as writer:
        writer.execute("begin; insert into shop.orders (customer) values (1)")
        yield
        writer.execute("commit")


def _prepared(database: Database, tmp_path: Path, second: str) -> list[MigrationFile]:
    files = _files(tmp_path, {"1_orders.sql": TABLE, "2_by_customer.sql": second})
    MigrationEngine(database.conninfo).migrate(APP, files[:1])
    return files


def test_a_concurrent_index_build_lets_writes_through_and_is_recorded_after_it(
    database: Database, tmp_path: Path
) -> None:
    files = _prepared(database, tmp_path, INDEX)
    engine = MigrationEngine(database.conninfo)
    assert not files[1].transactional
    with _open_writer(database):
        background = _apply_in_background(engine, files[1])
        pid = _building_pid(database)
        # Mid-build: the deploy holds its lock, the file is not recorded, and another
        # session's write goes through (a plain CREATE INDEX would block it until the end).
        assert database.scalar(
            "select granted from pg_locks where locktype = 'advisory' and pid = %s "
            "and objid = (%s::bigint & 4294967295)::oid",
            pid,
            LOCK_KEY,
        )
        assert {e.version: e.state for e in engine.status(APP, files)}["2"] is State.PENDING
        with database.connect() as other:
            other.execute("set lock_timeout = '2s'")
            other.execute("insert into shop.orders (customer) values (2)")
    background.join()

    assert background.error == []
    assert background.result[0].changed
    assert _index_state(database) == "valid"
    assert {e.version: e.state for e in engine.status(APP, files)}["2"] is State.APPLIED
    assert database.scalar("select count(*) from shop.orders") == 20002


def test_a_build_killed_mid_way_leaves_an_invalid_index_that_the_rerun_drops(
    database: Database, tmp_path: Path
) -> None:
    """A deploy whose session ends mid-build (a killed deploy, a database restart)."""
    files = _prepared(database, tmp_path, INDEX)
    engine = MigrationEngine(database.conninfo)
    with _open_writer(database):
        background = _apply_in_background(engine, files[1])
        database.execute(f"select pg_terminate_backend({_building_pid(database)})")
        background.join()

    message = str(background.error[0])
    assert "migrations/shop/2_by_customer.sql: the connection to the database was lost" in message
    assert "not recorded" in message
    assert "the next deploy drops that index" in message
    assert _index_state(database) == "invalid"
    assert {e.version: e.state for e in engine.status(APP, files)}["2"] is State.PENDING

    outcome = engine.apply(files[1])

    assert outcome.notes == (
        "migrations/shop/2_by_customer.sql: dropped the INVALID index "
        '"shop"."orders_by_customer" that an earlier failed or interrupted build of this file '
        "left behind, and built it again",
    )
    assert _index_state(database) == "valid"
    assert {e.version: e.state for e in engine.status(APP, files)}["2"] is State.APPLIED


def test_a_failed_build_says_what_it_left_and_the_rerun_succeeds_once_fixed(
    database: Database, tmp_path: Path
) -> None:
    files = _prepared(database, tmp_path, UNIQUE_INDEX)  # customers repeat: not unique
    engine = MigrationEngine(database.conninfo)

    with pytest.raises(SupastackError) as failed:
        engine.migrate(APP, files)

    message = str(failed.value)
    assert message.startswith("migrations/shop/2_by_customer.sql:2: statement 1 failed: ")
    assert "[23505]" in message
    assert "runs outside a transaction (-- supastack:no-transaction); it is not recorded" in message
    assert 'INVALID index "shop"."orders_by_customer" behind' in message
    assert _index_state(database) == "invalid"

    database.execute("delete from shop.orders where id > 100")
    assert [f.version for f in engine.migrate(APP, files)] == ["2"]
    assert _index_state(database) == "valid"


def test_the_stack_lock_timeout_bounds_a_build_waiting_for_writers(
    database: Database, tmp_path: Path
) -> None:
    files = _prepared(database, tmp_path, INDEX)
    engine = MigrationEngine(database.conninfo, EngineOptions(lock_timeout="300ms"))
    with _open_writer(database), pytest.raises(SupastackError) as failed:
        engine.apply(files[1])
    assert "lock_timeout is 300ms" in str(failed.value)
    assert {e.version: e.state for e in engine.status(APP, files)}["2"] is State.PENDING
    assert engine.apply(files[1]).changed  # the writer is gone: the rerun builds it
    assert _index_state(database) == "valid"


def test_a_no_transaction_down_file_reverts_without_a_transaction(
    database: Database, tmp_path: Path
) -> None:
    write_migrations(tmp_path, APP, {"2_by_customer.down.sql": DROP_INDEX})
    files = _prepared(database, tmp_path, INDEX)
    engine = MigrationEngine(database.conninfo)
    engine.migrate(APP, files)

    assert engine.revert(files[1]).changed
    assert _index_state(database) == "absent"
    assert {e.version: e.state for e in engine.status(APP, files)}["2"] is State.PENDING
