"""The functions' Postgres client under steady load, and what a round trip costs it.

1. **Steady load.** postgres.js 3.4 kept each pool's connections in lists it found them in by
   scanning an array; the busy list's array gained a slot per query and was emptied only when
   the list was, which under steady load it never is, so pipelined queries got slower the
   longer the load lasted (42,966 queries/s in the first window, 12,091 in the sixth) and
   functions/_shared/db.ts held it to one query at a time per connection. On 4.x, which the
   functions use now, pipelining is the library's default and db.ts's. This runs
   bench/postgres_client.ts (the functions' pinned version), both ways, 50 loops on a pool of 8
   (the functions' ``db()`` pool), and prints the queries answered per second in each window: a
   rate that falls window after window is a scan; one that holds is not.
2. **A round trip's CPU**, the functions' client against libpq (pgbench, prepared, the bench's
   SQL paths' client) in the same run: the same statement on 1 and on 8 connections, each loop
   or pgbench client waiting for its answer before it sends again. Prints queries/s, the client
   process's CPU a query and Postgres's, and the client CPU's ratio. pgbench's CPU includes its
   per-transaction log (:func:`bench.load.pgbench`'s latencies), which only counts against it.

Both against a throwaway local cluster.

    .venv/bin/python -m bench.postgres_client [--windows 6] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from bench import deno_scripts
from bench.cpu import cpu_seconds
from bench.load import WARM_UP_SECONDS, measured, pgbench
from supastack.local import system
from supastack.local.environment import LocalEnvironment

SCRIPT = Path(__file__).with_suffix(".ts")
POOL, LOOPS = 8, 50
WAYS = {"pipelined (the default, db.ts)": 100, "one at a time (max_pipeline 1)": 1}
#: Connections the round trip is measured on: one alone, and the functions' pool.
ROUND_TRIP_CONNECTIONS = (1, POOL)
#: pgbench's statement, the script's (`select ${n}::int as n`).
LIBPQ_SCRIPT = "\\set n random(1, 1000000)\nselect :n::int as n;\n"


@dataclass(frozen=True)
class ClientRun:
    """What one client's run answered, and the CPU a query took."""

    label: str
    rate: float
    #: the client process's CPU a query (ms)
    client_ms: float
    #: Postgres's (every backend) CPU a query (ms)
    server_ms: float

    def print(self, connections: int) -> None:
        print(f"  {connections:>11}  {self.label:<20} {self.rate:>10,.0f} "
              f"{self.client_ms:>13.4f} ms {self.server_ms:>15.4f} ms")  # fmt: skip


def run(dsn: str, pipeline: int, windows: int, seconds: float, *, pool: int = POOL,
        loops: int = LOOPS, warm: float = 0) -> tuple[list[int], ClientRun]:  # fmt: skip
    """postgres_client.ts: the rate in each window, and the windows' figures (Postgres's CPU
    read as the script says the first window starts and as it prints the last's figures)."""
    with subprocess.Popen(
        deno_scripts.command(SCRIPT, str(pool), str(pipeline), str(loops), str(windows),
                             str(seconds), str(warm)),
        env=deno_scripts.environment(dsn),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as script:  # fmt: skip
        assert script.stdout is not None
        # a script that never ends is killed: its output is then short, and reported below
        deadline = threading.Timer(warm + windows * seconds + 120, script.kill)
        deadline.start()
        lines, readings = [], []
        try:
            for line in script.stdout:
                lines.append(line)
                readings.append(cpu_seconds()["postgres"])
            _, errors = script.communicate()
        finally:
            deadline.cancel()
    if script.returncode != 0 or len(lines) != 2:
        raise SystemExit(
            f"{SCRIPT.name} failed (exit {script.returncode}; -9: killed at its deadline): "
            + deno_scripts.said(errors, dsn)
        )
    out = json.loads(lines[-1])
    rates: list[int] = out["rates"]
    figures = ClientRun("postgres.js (Deno)", sum(rates) / len(rates), float(out["cpuMs"]),
                        1000 * (readings[1] - readings[0]) / int(out["queries"]))  # fmt: skip
    return rates, figures


def libpq(dsn: str, work: Path, connections: int, seconds: int) -> ClientRun:
    """The same statement by pgbench on ``connections`` connections."""
    script = work / "round_trip.sql"
    script.write_text(LIBPQ_SCRIPT)
    load = pgbench(dsn, script, work, clients=connections, seconds=seconds, warmed=True)
    result = measured(load, "libpq")
    return ClientRun(
        "libpq (pgbench)",
        result.rate,
        1000 * result.cpu["load generator"] / result.done,
        1000 * result.cpu["postgres"] / result.done,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="supastack-bench-") as root:
        Path(root).chmod(0o755)
        env = LocalEnvironment(Path(root) / "state", system.free_port(), system.free_port())
        env.up(report=lambda _: None)
        try:
            dsn = deno_scripts.functions_dsn(env)
            print(f"1. {LOOPS} loops, a pool of {POOL}, `select $1::int`; queries answered per "
                  f"second in each {args.seconds:g} s window:")  # fmt: skip
            for way, pipeline in WAYS.items():
                rates, _ = run(dsn, pipeline, args.windows, args.seconds)
                print(f"  {way:<36} " + " ".join(f"{r:>7,}" for r in rates)
                      + f"   last / first {rates[-1] / rates[0]:.0%}")  # fmt: skip
            length = round(args.windows * args.seconds)
            print(f"2. a round trip's CPU: `select $1::int`, prepared, {length} s a run, each "
                  "loop waiting for its answer:")  # fmt: skip
            print(f"  {'connections':>11}  {'client':<20} {'queries/s':>10} "
                  f"{'client CPU/query':>16} {'Postgres CPU/query':>18}")  # fmt: skip
            ratios = []
            for connections in ROUND_TRIP_CONNECTIONS:
                _, functions = run(dsn, WAYS["pipelined (the default, db.ts)"], 1, length,
                                   pool=connections, loops=connections,
                                   warm=WARM_UP_SECONDS)  # fmt: skip
                work = Path(root) / f"libpq-{connections}"
                work.mkdir()
                baseline = libpq(dsn, work, connections, length)
                functions.print(connections)
                baseline.print(connections)
                ratio = functions.client_ms / baseline.client_ms
                ratios.append(f"{ratio:.1f}x on {connections}")
            print(f"  postgres.js's CPU a query / libpq's: {', '.join(ratios)}")
        finally:
            env.down(report=lambda _: None)


if __name__ == "__main__":
    main()
