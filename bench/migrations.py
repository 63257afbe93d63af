"""The migration engine on 200 generated migrations, next to psql doing the same work.

Generates 200 files (tables with RLS, indexes, SQL functions, policies), then, on a throwaway
local cluster, for each of ``--repeat`` rounds on fresh databases:

- baseline: ``psql --single-transaction -f <file>`` for each file in order (no bookkeeping);
- a stricter baseline without process start-up: one psql session, a transaction per file;
- engine: ``MigrationEngine.migrate`` (advisory lock, history, checksum, one transaction each);
- peers (``bench.migration_peers``): the Supabase CLI's ``migration up --db-url``; Atlas is
  named with why it does not run here.

Prints the median times and the engine's ratio to psql in one session (target <= 1.3x), then
a no-op run over the 200 applied migrations (target under 1 s) with the number of statements
it sent (counted by pg_stat_statements), next to the same figure for 50 applied migrations: it
must not grow; and the peers' no-op runs. Then the time to lint the 200 files (squawk plus
supastack's own checks).

Last, a ``-- supastack:no-transaction`` migration building an index with ``CREATE INDEX
CONCURRENTLY`` on a table of ``--rows`` rows (10 million) while a writer inserts rows one at a
time: the writer's rate before the build and during it, next to the same for a plain
``CREATE INDEX`` migration (which blocks writes until it ends).

    .venv/bin/python -m bench.migrations [--repeat 3] [--rows 10000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench import migration_peers as peers
from supastack.database.postgres import connect
from supastack.local import system
from supastack.local.environment import LocalEnvironment
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import MigrationFile, discover_app
from supastack.migrations.lint import lint
from supastack.migrations.states import EngineOptions

COUNT = 200
PRELUDE = (
    "create schema bench; create schema if not exists auth; "
    "create or replace function auth.uid() returns uuid language sql stable "
    "as $$ select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$"
)


def generate(root: Path) -> Path:
    """200 migrations, cycling: table + RLS, index, function, policy."""
    directory = root / "migrations" / "bench"
    directory.mkdir(parents=True)
    for i in range(COUNT):
        table = f"bench.t{i - i % 4}"
        sql = [
            f"create table {table} (id bigint generated always as identity primary key, "
            "owner uuid not null, body text, created_at timestamptz not null default now());\n"
            f"alter table {table} enable row level security;\n",
            f"create index t{i}_owner on {table} (owner, created_at);\n",
            f"create function bench.f{i}(p uuid) returns bigint language sql stable "
            f"set search_path = '' as $$ select count(*) from {table} where owner = p $$;\n",
            f"create policy p{i} on {table} for select to authenticated "
            "using (owner = (select auth.uid()));\n",
        ][i % 4]
        (directory / f"{20240101000000 + i}_step_{i}.sql").write_text(sql)
    return root / "migrations"


def fresh_database(admin: str, name: str) -> str:
    """A new database; its commits do not wait for the disk (``synchronous_commit = off``, for
    psql and the engine alike): this machine's fsync latency swings by 2x between rounds and
    would drown the difference measured, which is the engine's own work."""
    with connect(admin) as conn:
        conn.execute(f"drop database if exists {name} with (force)".encode())
        conn.execute(f"create database {name}".encode())
        conn.execute(f"alter database {name} set synchronous_commit = off".encode())
    conninfo = make_conninfo(admin, dbname=name)
    with connect(conninfo) as conn:
        conn.execute(PRELUDE.encode())
    return conninfo


def _psql(conninfo: str, *args: str) -> None:
    params = conninfo_to_dict(conninfo)
    env = {**os.environ, "PGPASSWORD": str(params.pop("password"))}
    dsn = make_conninfo(**params)  # type: ignore[arg-type]
    command = [str(system.PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    subprocess.run([*command, *args], env=env, check=True, capture_output=True)


def psql_per_file(conninfo: str, files: list[Path]) -> float:
    """The issue's baseline: one ``psql --single-transaction -f`` process per file."""
    started = time.perf_counter()
    for file in files:
        _psql(conninfo, "--single-transaction", "-f", str(file))
    return time.perf_counter() - started


def psql_one_session(conninfo: str, files: list[Path], script: Path) -> float:
    """A stricter baseline without process start-up: one psql, a transaction per file."""
    script.write_text("".join(f"BEGIN;\n\\i {file}\nCOMMIT;\n" for file in files))
    started = time.perf_counter()
    _psql(conninfo, "-f", str(script))
    return time.perf_counter() - started


def statements_sent(admin: str, database: str, run: object) -> int:
    """Statements pg_stat_statements saw in ``database`` while ``run()`` ran."""
    with connect(admin) as conn:
        conn.execute("select extensions.pg_stat_statements_reset()")
    run()  # type: ignore[operator]
    with connect(admin) as conn:
        row = conn.execute(
            "select coalesce(sum(calls), 0) from extensions.pg_stat_statements "
            "where dbid = (select oid from pg_database where datname = %s)",
            [database],
        ).fetchone()
    return int(row[0]) if row else 0


class Writer:
    """Inserts one row at a time on a connection of its own and notes when each commits."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._stop = threading.Event()
        self.commits: list[float] = []
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with connect(self._conninfo) as conn:
            while not self._stop.is_set():
                conn.execute("insert into big.events (customer) values (7)")
                self.commits.append(time.perf_counter())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def rate(self, start: float, end: float) -> float:
        """Commits per second between two instants."""
        done = sum(1 for t in self.commits if start <= t < end)
        return done / (end - start) if end > start else 0.0


INDEX_FILES = {
    "concurrent": (
        "-- supastack:no-transaction\n"
        "create index concurrently events_by_customer on big.events (customer);\n"
    ),
    "plain": "create index events_by_customer on big.events (customer);\n",
}


def index_build_under_writes(admin: str, root: Path, rows: int) -> None:
    """Writes per second before and during an index build, concurrent and plain."""
    conninfo = fresh_database(admin, "bench_index")
    started = time.perf_counter()
    with connect(conninfo) as conn:
        conn.execute(
            "create schema big; create table big.events (id bigint generated always as identity "
            "primary key, customer int not null, at timestamptz not null default now())"
        )
        conn.execute(
            "insert into big.events (customer) select g %% 100000 from generate_series(1, %s) g",
            [rows],
        )
        conn.execute("vacuum analyze big.events")
    print(f"index build on {rows:,} rows while a writer inserts (table filled in "
          f"{time.perf_counter() - started:.0f} s)")  # fmt: skip
    engine = MigrationEngine(conninfo, EngineOptions(statement_timeout="30min"))
    for version, (kind, text) in enumerate(INDEX_FILES.items(), 1):
        directory = root / f"index_{kind}"
        (directory / "big").mkdir(parents=True)
        (directory / "big" / f"{version}_events_by_customer.sql").write_text(text)
        file: MigrationFile = discover_app(directory, "big")[0]
        writer = Writer(conninfo)
        writer.start()
        before_start = time.perf_counter()
        time.sleep(3)  # a measurement window, not a synchronisation
        build_start = time.perf_counter()
        engine.apply(file)
        build_end = time.perf_counter()
        writer.stop()
        before = writer.rate(before_start, build_start)
        during = writer.rate(build_start, build_end)
        print(
            f"  {kind:>10} CREATE INDEX: {build_end - build_start:5.1f} s; writes/s before "
            f"{before:7.0f}, during {during:7.0f} ({during / before:.0%} of before)"
        )
        with connect(conninfo) as conn:
            conn.execute(
                "drop index big.events_by_customer; "
                "delete from supabase_migrations.schema_migrations"
            )


def apply_rounds(
    admin: str, root: Path, files: list[MigrationFile], paths: list[Path], repeat: int
) -> tuple[str, str | None, Path | str, Path]:
    """Each round on fresh databases: psql twice, the engine, the Supabase CLI; prints the
    medians. Returns the engine's and the CLI's last databases, the CLI, and its project."""
    baseline, session, engine, cli_runs = [], [], [], []
    cli = peers.supabase_cli()
    workdir = peers.supabase_project(root, paths[0].parent)
    cli_db = None
    for _ in range(repeat):
        baseline.append(psql_per_file(fresh_database(admin, "bench_psql"), paths))
        session.append(
            psql_one_session(fresh_database(admin, "bench_session"), paths, root / "all.sql")
        )
        conninfo = fresh_database(admin, "bench_engine")
        started = time.perf_counter()
        MigrationEngine(conninfo).migrate("bench", files)
        engine.append(time.perf_counter() - started)
        if isinstance(cli, Path):
            cli_db = fresh_database(admin, "bench_supabase_cli")
            cli_runs.append(peers.supabase_up(cli, cli_db, workdir))
    psql_s, engine_s = statistics.median(baseline), statistics.median(engine)
    session_s = statistics.median(session)
    print(f"apply {COUNT} migrations (median of {repeat})")
    runs = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(session, engine, strict=True))
    print(f"  each round, psql one session / engine (s): {runs}")
    print(f"  psql --single-transaction -f, one file at a time: {psql_s:.2f} s")
    print(f"  psql, one session, a transaction per file:        {session_s:.2f} s")
    print(f"  supastack engine:                                 {engine_s:.2f} s")
    if isinstance(cli, Path) and cli_db is not None:
        cli_s = statistics.median(cli_runs)
        with connect(cli_db) as conn:  # that it did the work: its history holds every file
            row = conn.execute("select count(*) from supabase_migrations.schema_migrations")
            recorded = row.fetchone()
        print(f"  Supabase CLI 1.226.4, migration up --db-url:      {cli_s:.2f} s "
              f"({cli_s / session_s:.2f}x psql one session; {recorded and recorded[0]} "
              "recorded)")  # fmt: skip
    else:
        print(f"  {cli}")
    print(f"  {peers.ATLAS_BLOCKED}")
    print(f"  ratio engine / psql per file: {engine_s / psql_s:.2f}x")
    # Paired per round (each round runs both back to back): commit latency (fsync) drifts over
    # a run on this machine, and a ratio of medians would mix rounds.
    paired = sorted(e / s for e, s in zip(engine, session, strict=True))
    print(
        f"  ratio engine / psql one session: {statistics.median(paired):.2f}x, median of "
        f"the rounds' ratios ({paired[0]:.2f}-{paired[-1]:.2f}; target <= 1.3x)"
    )
    return conninfo, cli_db, cli, workdir


def no_op_runs(
    admin: str, conninfo: str, files: list[MigrationFile], *, cli_db: str | None,
    cli: Path | str, workdir: Path,
) -> None:  # fmt: skip
    """The engine over its applied migrations (time, statements sent at 200 and at 50), and
    the Supabase CLI over its own."""
    started = time.perf_counter()
    MigrationEngine(conninfo).migrate("bench", files)
    noop = time.perf_counter() - started
    at_200 = statements_sent(
        admin, "bench_engine", lambda: MigrationEngine(conninfo).migrate("bench", files)
    )
    small = fresh_database(admin, "bench_small")
    MigrationEngine(small).migrate("bench", files[:50])
    at_50 = statements_sent(
        admin, "bench_small", lambda: MigrationEngine(small).migrate("bench", files[:50])
    )
    print(f"no-op run over {COUNT} applied migrations: {noop * 1000:.0f} ms (target < 1 s)")
    print(f"  statements sent: {at_200} with {COUNT} applied, {at_50} with 50 applied")
    if isinstance(cli, Path) and cli_db is not None:
        noop_cli = peers.supabase_up(cli, cli_db, workdir)
        print(f"  Supabase CLI, migration up over the same: {noop_cli * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="supastack-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        migrations = generate(root)
        files = discover_app(migrations, "bench")
        paths = sorted((migrations / "bench").glob("*.sql"))
        env = LocalEnvironment(root / "state", system.free_port(), system.free_port())
        env.up(report=lambda _: None)
        try:
            admin = env.cluster(env.credentials()).dsn()
            conninfo, cli_db, cli, workdir = apply_rounds(admin, root, files, paths, args.repeat)
            no_op_runs(admin, conninfo, files, cli_db=cli_db, cli=cli, workdir=workdir)
            started = time.perf_counter()
            findings = lint(files, "bench")
            print(
                f"lint {COUNT} files: {time.perf_counter() - started:.2f} s "
                f"({len(findings)} findings)"
            )
            index_build_under_writes(admin, root, args.rows)
        finally:
            env.down(report=lambda _: None)


if __name__ == "__main__":
    main()
