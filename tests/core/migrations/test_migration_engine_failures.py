"""The migration engine against a real database: races and failures (two deploys at once, a
killed deploy, the lock, connections lost mid-migration, while recording its history row and
during its commit)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from supastack.errors import SupastackError
from supastack.migrations.engine import LOCK_KEY, MigrationEngine
from supastack.migrations.files import MigrationFile, discover_app
from supastack.migrations.states import EngineOptions, State
from tests.conftest import wait_until, write_migrations
from tests.core.conftest import Database
from tests.core.migrations.shop_migrations import APP, FIRST, shop_files, states_of

_WORKER = """
import os, sys
from pathlib import Path
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import discover_app
engine = MigrationEngine(os.environ["TEST_CONNINFO"])
applied = engine.migrate("shop", discover_app(Path(sys.argv[1]), "shop"))
print(",".join(f.version for f in applied))
"""


def _worker(database: Database, migrations: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(migrations)],
        env={**os.environ, "TEST_CONNINFO": database.conninfo},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _advisory_waiters(database: Database) -> int:
    return int(
        database.scalar(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted "
            "and database = (select oid from pg_database where datname = current_database())"
        )
    )


def test_two_deploys_at_once_apply_each_migration_exactly_once(
    database: Database, tmp_path: Path
) -> None:
    counted = (
        "create table if not exists public.runs (n int);\ninsert into public.runs values (1);\n"
    )
    migrations = write_migrations(tmp_path, APP, {"1_items.sql": FIRST, "2_count.sql": counted})
    with database.connect() as gate:
        gate.execute(
            "select pg_advisory_lock(%s)", [LOCK_KEY]
        )  # hold both deploys at the start line
        workers = [_worker(database, migrations) for _ in range(2)]
        wait_until(lambda: _advisory_waiters(database) == 2, timeout=30)
        gate.execute("select pg_advisory_unlock(%s)", [LOCK_KEY])
        results = [w.communicate(timeout=60) for w in workers]

    assert [w.returncode for w in workers] == [0, 0], results
    assert sorted(out.strip() for out, _ in results) == [
        "",
        "1,2",
    ]  # one applied, one found it done
    assert database.scalar("select count(*) from public.runs") == 1


@contextmanager
def _deploy_inside_migration_2(
    database: Database, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """A deploy (a subprocess) blocked inside migration 2, after its first statement, on a
    lock the test holds; yields the process, its backend pid and the migrations directory."""
    migrations = write_migrations(
        tmp_path, APP, {"1_items.sql": FIRST + "create table shop.gate (n int);\n"}
    )
    MigrationEngine(database.conninfo).migrate(APP, discover_app(migrations, APP))
    gated = "create table shop.half (id bigint);\ninsert into shop.gate values (1);\n"
    write_migrations(tmp_path, APP, {"2_half.sql": gated})
    waiting = (
        "select pid from pg_stat_activity where application_name = 'supastack' "
        "and wait_event_type = 'Lock' and query like 'insert into shop.gate%'"
    )
    with database.connect() as holder:
        holder.execute("begin; lock table shop.gate in exclusive mode")
        worker = _worker(database, migrations)
        pid = wait_until(lambda: database.scalar(waiting), timeout=30)
        yield worker, int(pid), migrations
        holder.execute("rollback")


def test_a_deploy_killed_mid_migration_leaves_it_unapplied(
    database: Database, tmp_path: Path
) -> None:
    with _deploy_inside_migration_2(database, tmp_path) as (worker, _, migrations):
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

    files = discover_app(migrations, APP)
    assert states_of(MigrationEngine(database.conninfo), files)["2"] is State.PENDING
    assert database.scalar("select to_regclass('shop.half')") is None
    assert [f.version for f in MigrationEngine(database.conninfo).migrate(APP, files)] == ["2"]
    assert database.scalar("select to_regclass('shop.half')") is not None


def test_a_deploy_gives_up_waiting_for_the_lock_and_names_the_holder(
    database: Database, tmp_path: Path
) -> None:
    files = shop_files(tmp_path, {"1_items.sql": FIRST})
    with database.connect() as holder:
        holder.execute("set application_name = 'other-deploy'")
        holder.execute("select pg_advisory_lock(%s)", [LOCK_KEY])
        pid = holder.info.backend_pid
        engine = MigrationEngine(database.conninfo, EngineOptions(deploy_lock_wait="200ms"))
        with pytest.raises(
            SupastackError, match=rf"pid {pid} \(other-deploy, since .*deployLockWait"
        ):
            engine.migrate(APP, files)
    assert states_of(MigrationEngine(database.conninfo), files) == {"1": State.PENDING}


def test_a_connection_lost_mid_migration_fails_naming_the_file_and_applies_nothing(
    database: Database, tmp_path: Path
) -> None:
    """What a database restart does to a running deploy: its session ends mid-file."""
    with _deploy_inside_migration_2(database, tmp_path) as (worker, pid, migrations):
        database.execute(f"select pg_terminate_backend({pid})")
        _, stderr = worker.communicate(timeout=60)

    assert worker.returncode != 0
    assert "migrations/shop/2_half.sql:2: statement 2 failed" in stderr
    files = discover_app(migrations, APP)
    assert states_of(MigrationEngine(database.conninfo), files)["2"] is State.PENDING
    assert database.scalar("select to_regclass('shop.half')") is None


def test_a_version_another_app_recorded_is_refused_and_rolled_back(
    database: Database, tmp_path: Path
) -> None:
    blog = write_migrations(tmp_path / "blog", "blog", {"1_posts.sql": "create table posts ();\n"})
    MigrationEngine(database.conninfo).migrate("blog", discover_app(blog, "blog"))
    with pytest.raises(SupastackError, match=r"1_items.sql: version 1 is recorded for another app"):
        MigrationEngine(database.conninfo).migrate(
            APP, shop_files(tmp_path, {"1_items.sql": FIRST})
        )
    assert database.scalar("select to_regnamespace('shop')") is None


def test_a_file_with_transaction_control_is_refused_before_anything_runs(
    database: Database,
) -> None:
    """The audit's file: before, its first COMMIT made a table permanent with no history row."""
    file = MigrationFile(
        app=APP, version="1", name="items", source="migrations/shop/1_items.sql",
        sql="begin; create table public.a (); commit; create table public.b (); select 1/0;",
    )  # fmt: skip
    with pytest.raises(
        SupastackError,
        match=r"1_items.sql:1: begin: transaction control.*\n.*1_items.sql:1: commit: ",
    ):
        MigrationEngine(database.conninfo).apply(file)
    assert database.scalar("select to_regclass('public.a')") is None


GATED_COMMIT = """\
create table shop.late (id bigint);
create function shop.at_commit() returns trigger language plpgsql as
  $$ begin insert into shop.gate values (1); return null; end $$;
create constraint trigger at_commit after insert on shop.late
  deferrable initially deferred for each row execute function shop.at_commit();
insert into shop.late values (1);
"""


@contextmanager
def _deploy_stuck_in(
    database: Database,
    tmp_path: Path,
    migration_2: str,
    waiting_on: str,
    hold: Callable[[psycopg.Connection[tuple[object, ...]]], None],
) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """A deploy (a subprocess) of migration 2 whose backend waits at ``waiting_on`` (a query
    prefix), held there by ``hold`` (run on another session once migration 1, which creates
    ``shop.gate``, is applied); yields the process, its pid and the directory."""
    migrations = write_migrations(
        tmp_path, APP, {"1_items.sql": FIRST + "create table shop.gate (n int);\n"}
    )
    MigrationEngine(database.conninfo).migrate(APP, discover_app(migrations, APP))
    write_migrations(tmp_path, APP, {"2_late.sql": migration_2})
    with database.connect() as holder:
        hold(holder)
        worker = _worker(database, migrations)
        pid = wait_until(
            lambda: database.scalar(
                "select pid from pg_stat_activity where application_name = 'supastack' "
                "and wait_event_type in ('Lock', 'IPC') and query like %s",
                f"{waiting_on}%",
            ),
            timeout=30,
        )
        yield worker, int(pid), migrations


def _locking(statement: str) -> Callable[[psycopg.Connection[tuple[object, ...]]], None]:
    """A hold that takes a lock in an open transaction (it ends with the session)."""

    def hold(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        conn.execute(f"begin; {statement}".encode())

    return hold


def _terminate(database: Database, worker: subprocess.Popen[str], pid: int) -> str:
    database.execute(f"select pg_terminate_backend({pid})")
    _, stderr = worker.communicate(timeout=60)
    assert worker.returncode != 0
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("supastack.errors.SupastackError: "), stderr  # not a psycopg one
    return error


#: The history row travels with COMMIT, in one query (one round trip per file saved).
HISTORY_AND_COMMIT = "INSERT INTO supabase_migrations.schema_migrations"


def test_a_connection_lost_while_recording_the_history_row_is_named_and_applies_nothing(
    database: Database, tmp_path: Path
) -> None:
    with _deploy_stuck_in(
        database, tmp_path, "create table shop.late (id bigint);\n",
        HISTORY_AND_COMMIT,
        _locking("lock table supabase_migrations.schema_migrations in share mode"),
    ) as (worker, pid, migrations):  # fmt: skip
        stderr = _terminate(database, worker, pid)
    assert "migrations/shop/2_late.sql: the connection to the database was lost" in stderr
    assert "nothing of it is applied" in stderr
    assert states_of(MigrationEngine(database.conninfo), discover_app(migrations, APP)) == {
        "1": State.APPLIED, "2": State.PENDING
    }  # fmt: skip
    assert database.scalar("select to_regclass('shop.late')") is None


def test_a_connection_lost_during_a_commit_that_did_not_happen_says_so(
    database: Database, tmp_path: Path
) -> None:
    """A deferred trigger holds COMMIT on a lock; the session ends before it commits."""
    with _deploy_stuck_in(
        database,
        tmp_path,
        GATED_COMMIT,
        HISTORY_AND_COMMIT,
        _locking("lock table shop.gate in exclusive mode"),
    ) as (worker, pid, _):
        stderr = _terminate(database, worker, pid)
    assert "2_late.sql: the connection to the database was lost during COMMIT" in stderr
    assert "it did not commit: nothing of it is applied" in stderr
    assert database.scalar("select to_regclass('shop.late')") is None


def test_a_connection_lost_during_a_commit_that_happened_says_so(
    database: Database, tmp_path: Path
) -> None:
    """Synchronous replication to a standby that never comes holds COMMIT after the commit
    record is written (as a network partition would); ending the session then leaves the
    transaction committed locally, and the engine finds the history row and says so."""

    def absent_standby(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        conn.execute("alter system set synchronous_standby_names = 'supastack_absent_standby'")
        conn.execute("select pg_reload_conf()")
        wait_until(
            lambda: database.scalar("show synchronous_standby_names") == "supastack_absent_standby"
        )

    try:
        with _deploy_stuck_in(
            database,
            tmp_path,
            "create table shop.late (id bigint);\n",
            HISTORY_AND_COMMIT,
            absent_standby,
        ) as (worker, pid, migrations):
            stderr = _terminate(database, worker, pid)
    finally:
        database.execute("alter system reset synchronous_standby_names")
        database.execute("select pg_reload_conf()")
    assert "2_late.sql: the connection to the database was lost during COMMIT" in stderr
    assert "it did commit: the migration is applied" in stderr
    assert states_of(MigrationEngine(database.conninfo), discover_app(migrations, APP)) == {
        "1": State.APPLIED, "2": State.APPLIED
    }  # fmt: skip
