"""What the app benchmarks share: HTTP load with wrk and SQL load with pgbench (compiled load
generators on both sides: a Python client spent a core of this 2-core machine on itself and
measured its own speed), the same figures from each, and where the CPU went.

pgbench runs its statements prepared (``-M prepared``), as the functions' client does: the SQL
path is the best a client of the database does, not one that parses and plans each query."""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from applier.engine import deploy
from bench.cpu import cpu_seconds
from supastack.config.manifest import load_app
from supastack.local import system
from tests.conftest import Services, start_services
from tests.e2e.conftest import local_config

#: The project whose apps the benches deploy.
PROJECT = Path(__file__).resolve().parents[1]

#: (requests that succeeded, seconds, p50 ms, p95 ms, failed)
Figures = tuple[int, float, float, float, int]

#: How long a warmed path's load runs, unmeasured, before its measured run.
WARM_UP_SECONDS = 2


@dataclass(frozen=True)
class Run:
    """A load generator's measured run, and the same load run before it, unmeasured, for a
    path that is warmed (``warm_up``): what is measured is then the path hot, as a production
    instance serves it, not its start. Without it, a function's first seconds in a 10 s run
    were its module loaded and compiled, V8's code not yet optimized, its pool's connections
    opened and its statements prepared (metrics: the runtime's CPU a request 0.49 ms in a first
    run, 0.37-0.39 ms in the three after it, in one deployment). The SQL path has none of
    those to pay but its connections' prepared plans; it is warmed alike. Only paths whose
    requests may be sent again are warmed: a booking's customer has booked, a bid's token is
    spent, an event was received (see docs/testing-and-benchmarks.md)."""

    measure: Callable[[], Figures]
    warm_up: Callable[[], object] | None = None


#: The start of a wrk script that knows its thread (``thread_id``, of ``threads``) and counts
#: its requests (``counter``).
WRK_THREADS = """
local thread_id, threads, counter = 0, 2, 0
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
"""

#: The start of a wrk script whose requests come from a file of lines (one per request, taken
#: in turn by the two threads): ``next_line()`` gives the next one, or what the script's
#: ``prepare(line)``, if it defines one, made of it before the run.
WRK_LINES = (
    WRK_THREADS
    + """
local lines = {}
function init(args)
  thread_id = id
  for line in io.lines(args[1]) do lines[#lines + 1] = prepare and prepare(line) or line end
end
function next_line()
  local line = lines[(counter * threads + thread_id) % #lines + 1]
  counter = counter + 1
  return line
end
"""
)

#: The start of a wrk script whose requests are made once, before the run, from the lines of a
#: file (``prepare(line)``, which the script defines, returns one from ``wrk.format``) and sent
#: in turn by the two threads. Formatting each request as it was sent was a quarter to a third
#: of wrk's CPU a request on the personalized paths (docs/testing-and-benchmarks.md): CPU the
#: function path's Postgres and runtime did not have on these two cores.
WRK_PREPARED = WRK_LINES + "\nfunction request() return next_line() end\n"

#: Appended to a wrk script: one JSON line with the run's figures.
WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "seconds": %f, "p50_ms": %f, "p95_ms": %f, '
    .. '"non_2xx": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class PathResult:
    label: str
    done: int
    seconds: float
    p50_ms: float
    p95_ms: float
    failed: int
    cpu: dict[str, float]
    #: whether the same load ran first, unmeasured (:class:`Run`)
    warmed: bool = False

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    @property
    def error_rate(self) -> float:
        return self.failed / max(self.done + self.failed, 1)

    @property
    def cpu_ms(self) -> float:
        """CPU a request (or row, or point) took, every process measured together."""
        return 1000 * sum(self.cpu.values()) / max(self.done, 1)

    def cpu_parts(self, digits: int = 2) -> str:
        """The CPU a request took in each process, the busiest first."""
        return ", ".join(
            f"{name} {1000 * seconds / max(self.done, 1):.{digits}f} ms"
            for name, seconds in sorted(self.cpu.items(), key=lambda kv: -kv[1])
        )

    @property
    def cores(self) -> float:
        """How many cores the run kept busy, on average."""
        return sum(self.cpu.values()) / self.seconds

    def print(self, unit: str, note: str = "", callers: Callers | None = None) -> None:
        """The figures, and whether the run outran the ``callers`` it was spread over."""
        warmed = ", warmed first" if self.warmed else ""
        print(f"  {self.label:<13} {self.rate:6.0f} {unit}/s, p50 {self.p50_ms:6.1f} ms, "
              f"p95 {self.p95_ms:6.1f} ms; {note + '; ' if note else ''}{self.failed} failed "
              f"({100 * self.error_rate:.2f} %){warmed}")  # fmt: skip
        print(f"  {'':<13} CPU per {unit.removesuffix('s')}: {self.cpu_parts()}")
        if callers is not None:
            callers.check(self)


@dataclass(frozen=True)
class Comparison:
    """One function path next to its baseline measured in the same run (the SQL the function
    runs, or COPY for ingest): a row of ``python -m bench.functions_vs_sql``'s table."""

    path: str
    unit: str
    function: PathResult
    baseline: PathResult
    #: units per request on the function path (1,000 points per ingest batch)
    per_request: int = 1
    #: the function's own statement, where it differs from the baseline by making the answer's
    #: JSON in Postgres (the baseline hands bare rows to a client that never encodes them)
    statement: PathResult | None = None
    #: the same answer from a bare server with none of the function's checks (bench.floor)
    floor: PathResult | None = None

    @property
    def share(self) -> float:
        return self.function.rate * self.per_request / self.baseline.rate

    def row(self) -> str:
        fn, base = self.function, self.baseline
        rate = fn.rate * self.per_request
        through = f"{rate:,.0f} {self.unit}/s, p50 {fn.p50_ms:.1f} ms, p95 {fn.p95_ms:.1f} ms"
        direct = f"{base.label}: {base.rate:,.0f} {self.unit}/s"
        direct += f", p50 {base.p50_ms:.1f} ms" if base.p50_ms else ""  # a COPY has no requests
        share = f"**{100 * self.share:.0f} %**"
        if self.statement is not None:
            direct += f"; {self.statement.label}: {self.statement.rate:,.0f} {self.unit}/s"
            share += f" ({100 * fn.rate / self.statement.rate:.0f} % of its statement)"
        if self.floor is not None:
            share += f" (a bare server's floor: {100 * self.floor.rate / base.rate:.0f} %)"
        warmed = " (both warmed first)" if fn.warmed and base.warmed else ""
        return f"| {self.path}{warmed} | {through}, {fn.failed} failed | {direct} | {share} |"

    def cpu_row(self) -> str | None:
        """Where the share comes from, when both sides' CPU was measured (not COPY's): as the
        rate is the cores a run kept busy over the CPU a request took, the share is exactly
        (the baseline's CPU a request / the function path's) * (the cores the function path
        kept busy / the baseline's). With both paths near the machine's cores, the second factor
        is near 1 and the first decides; the budget is the CPU a request the function path may
        take for half the baseline's rate at the cores it keeps busy."""
        fn, base = self.function, self.baseline
        if not fn.cpu or not base.cpu or self.per_request != 1:
            return None
        budget = 2 * base.cpu_ms * fn.cores / base.cores
        return (f"| {self.path} | {fn.cpu_ms:.3f} ms ({fn.cpu_parts(3)}) | {base.cpu_ms:.3f} ms "
                f"({base.cpu_parts(3)}) "
                f"| {base.cpu_ms / fn.cpu_ms:.2f} * {fn.cores:.2f} / {base.cores:.2f} cores "
                f"= {100 * self.share:.0f} % | {budget:.3f} ms |")  # fmt: skip


TABLE_HEAD = (
    "| path | through the function | baseline, same run | function / baseline |\n|---|---|---|---|"
)
CPU_TABLE_HEAD = (
    "| path | CPU a request, function path | baseline's | share = CPU ratio * cores ratio "
    "| function path's budget for 50 % |\n|---|---|---|---|---|"
)


def measured(run: Run, label: str) -> PathResult:
    if run.warm_up is not None:
        run.warm_up()
    before = cpu_seconds()
    done, seconds, p50, p95, failed = run.measure()
    after = cpu_seconds()
    spent = {k: after[k] - before.get(k, 0.0) for k in after if after[k] > before.get(k, 0.0)}
    return PathResult(label, done, seconds, p50, p95, failed, spent, run.warm_up is not None)


def side_by_side(
    path: str,
    unit: str,
    function: tuple[str, Run],
    baseline: tuple[str, Run],
    *,
    statement: tuple[str, Run] | None = None,
    floor: tuple[str, Run] | None = None,
    callers: Callers | None = None,
) -> Comparison:
    """Both runs (and the function's own statement, and its floor, when given) measured one
    after the other, printed with the shares (and whether the function's run outran its
    ``callers``); the comparison."""
    through, direct = measured(function[1], function[0]), measured(baseline[1], baseline[0])
    own = measured(statement[1], statement[0]) if statement else None
    bare = measured(floor[1], floor[0]) if floor else None
    through.print(unit, callers=callers)
    direct.print(unit)
    print(f"  function path / SQL path: {100 * through.rate / direct.rate:.0f} %")
    if own is not None:
        own.print(unit)
        print(f"  function path / its own statement: {100 * through.rate / own.rate:.0f} %")
    if bare is not None:
        bare.print(unit)
        print(f"  floor / SQL path: {100 * bare.rate / direct.rate:.0f} %")
    return Comparison(path, unit, through, direct, statement=own, floor=bare)


@dataclass(frozen=True)
class Callers:
    """The callers a bench spreads a function's requests over, so that what it measures is the
    function's capacity, not a caller's rate limit (a policy per caller: real traffic at that
    rate comes from that many callers). ``each``: the requests a caller may send in the run,
    sized for a run at up to ``fastest`` requests/s."""

    count: int
    each: float
    fastest: float

    @classmethod
    def within_limit(
        cls, app: str, function: str, seconds: int, fastest: float, *, warmed: bool = False
    ) -> Callers:
        """Enough that none sends more than half of what the function's rate limit (its app
        manifest's) lets it send in ``seconds`` (and the warm-up before them, when ``warmed``):
        a full bucket, then the refill."""
        seconds += WARM_UP_SECONDS if warmed else 0
        spec = load_app(PROJECT, app).functions[function].rate_limit
        if spec is None:
            raise ValueError(f"apps/{app}.yaml: {function} has no rateLimit to size callers by")
        each = (spec.requests + spec.requests * seconds / spec.per_seconds) / 2
        return cls(math.ceil(fastest * seconds / each), each, fastest)

    @classmethod
    def one_each(cls, seconds: int, fastest: float) -> Callers:
        """A new caller for every request (each makes one booking)."""
        return cls(math.ceil(fastest * seconds), 1, fastest)

    def check(self, result: PathResult) -> None:
        """Say so when the run sent more than its callers were sized for: some of its failures
        may then be the callers' own limit (the machine was faster than ``fastest``)."""
        sent = result.done + result.failed
        if sent > self.count * self.each:
            print(f"  note: {sent:,} requests over {self.count:,} callers, more than the "
                  f"{self.each:g} each they were sized for (a run at up to {self.fastest:,.0f}/s):"
                  " failures may be the callers' own limit; raise the bench's fastest")  # fmt: skip


@contextmanager
def deployed(*, redis: bool = False, **config: object) -> Iterator[tuple[Services, Path]]:
    """A throwaway local target (with a Redis when asked) with the local stack deployed
    (``config`` overrides it, e.g. ``apps``), and a work directory the load generators can
    read; both gone afterwards. Its pg_cron jobs are paused: a job that fires (a view's
    refresh every five minutes, the alerts every minute) takes CPU from whichever path runs
    then, as the clock falls (events-search's Postgres CPU a request was 0.19 ms in one run and
    0.39 ms in the next, 57 % and 41 % of its SQL; 0.18-0.21 ms in the runs with the jobs
    paused). Neither path is a job."""
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="supastack-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        services = start_services(work / "target", redis=redis)
        try:
            deploy(local_config(services, **config))
            with psycopg.connect(services.dsn(), autocommit=True) as conn:
                conn.execute("select cron.alter_job(jobid, active => false) from cron.job")
            yield services, work
        finally:
            services.env.down(report=lambda _: None)


def ensure_wrk() -> None:
    if subprocess.run(["which", "wrk"], capture_output=True, check=False).returncode != 0:
        system.install_packages(["wrk"])


def wrk(
    url: str, script: Path, *, clients: int, seconds: int, args: list[str], warmed: bool = False
) -> Run:
    """``script`` (with :data:`WRK_REPORT`) against ``url`` on ``clients`` connections (when
    ``warmed``, after :data:`WARM_UP_SECONDS` of the same, unmeasured)."""

    def run(length: int) -> Figures:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{length}s", "-s", str(script), url, "--", *args],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        result = json.loads(out.strip().splitlines()[-1])
        ok = result["requests"] - result["non_2xx"]
        return ok, result["seconds"], result["p50_ms"], result["p95_ms"], result["non_2xx"]

    return Run(lambda: run(seconds), (lambda: run(WARM_UP_SECONDS)) if warmed else None)


def pgbench(
    dsn: str,
    script: Path,
    work: Path,
    *,
    clients: int,
    seconds: int,
    define: str = "",
    warmed: bool = False,
) -> Run:
    """``script`` on ``clients`` connections for ``seconds`` (``define``: a variable each client
    starts with, ``name=value``; when ``warmed``, after :data:`WARM_UP_SECONDS` of the same,
    unmeasured); latencies from its per-transaction log."""
    params = conninfo_to_dict(dsn)
    env = {**os.environ, "PGPASSWORD": str(params["password"])}

    def run(length: int, logs: Path | None) -> str:
        completed = subprocess.run(
            [str(system.PG_BIN / "pgbench"), "-n", "-M", "prepared", "-c", str(clients), "-j",
             "2", "-T", str(length), *(["-D", define] if define else []), "-f", str(script),
             *(["-l", "--log-prefix", str(logs / "tx")] if logs else []),
             "-h", str(params["host"]), "-p", str(params["port"]), "-U", str(params["user"]),
             str(params["dbname"])], capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(f"pgbench {script.name}: {completed.stderr.strip()[-1500:]}")
        return completed.stdout

    def measure() -> Figures:
        logs = work / f"pgbench-{script.stem}"
        logs.mkdir()
        result = run(seconds, logs)
        latencies = [int(line.split()[2]) / 1000 for log in logs.iterdir() for line in log.open()]
        found = re.search(r"number of failed transactions: (\d+)", result)
        failed = int(found[1]) if found else 0
        p95 = statistics.quantiles(latencies, n=20)[18]
        return len(latencies) - failed, float(seconds), statistics.median(latencies), p95, failed

    return Run(measure, (lambda: run(WARM_UP_SECONDS, None)) if warmed else None)
