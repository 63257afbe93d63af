"""The ObservAI hub's two performance targets, each next to its baseline in the same run.

The observai app is deployed to a throwaway local target (with its Redis) by the offline
harness, for an organization on the enterprise tier. Then:

1. **Ingest**, ``--seconds`` each, batches of 1,000 points:
   - through ``POST /functions/v1/ingest`` with an API key (gateway, middleware, validation,
     key digest, tier limits, the insert), driven by wrk on ``--clients`` connections;
   - as one multi-row ``INSERT`` of the same 1,000 points per transaction, driven by pgbench on
     as many connections;
   - the baseline: ``COPY`` of 1,000,000 points from a file by psql.
   Prints points/s of each and the function path's share of COPY's (target: >= 50,000
   points/s through the function).
2. **A 24-hour series over ``--points`` points** (10,000,000 by default, across 10 series,
   rolled up by ``observai.aggregate``), ``--seconds`` each:
   - ``GET /functions/v1/metrics`` for a day by 5 minutes (288 buckets from the 5-minute
     rollup), through wrk, the cache bypassed (``x-cache: off``: Redis stopped), so every
     request reaches Postgres, from enough dashboards' keys that none meets the function's
     limit (600 a minute) at up to FASTEST_READS requests/s;
   - the same ``observai.series`` call through pgbench.
   Prints p50 / p95 of each (target: p95 < 100 ms).

    .venv/bin/python -m bench.observai [--seconds 20] [--clients 8] [--points 10000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import time
from unittest.mock import patch

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.load import (
    WRK_REPORT,
    Callers,
    Comparison,
    PathResult,
    deployed,
    measured,
    pgbench,
    wrk,
)
from supastack.local import system

BATCH = 1000
SERIES = 10
#: The most series reads a second the dashboards' keys are made for (more than the SQL path).
FASTEST_READS = 10_000

INGEST_SCRIPT = (
    """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ANON_KEY")
wrk.headers["x-api-key"] = os.getenv("API_KEY")
wrk.headers["Content-Type"] = "application/json"
function init(args)
  local file = io.open(args[1])
  wrk.body = file:read("*a")
  file:close()
end
"""
    + WRK_REPORT
)


def _series_script(start: str, end: str) -> str:
    """GETs of the day's series by 5 minutes, each series in turn, from many dashboards, each
    with an API key of its own (the function's rate limit counts a key, or else the address
    the runtime saw: one key would measure 429s)."""
    query = f"&step=300&from={start}&to={end}"
    return (
        f"""
local at, keys, prepared = 0, {{}}, {{}}
for key in string.gmatch(os.getenv("API_KEYS"), "[^,]+") do keys[#keys + 1] = key end
function init(args)
  for n = 1, {SERIES} * #keys do  -- a whole cycle of series and keys, made once
    local query = "?name=series." .. (n % {SERIES}) .. "{query}"
    prepared[n] = wrk.format("GET", wrk.path .. query, {{
      ["Authorization"] = "Bearer " .. os.getenv("ANON_KEY"), ["x-api-key"] = keys[n % #keys + 1]}})
  end
end
function request()
  at = at % #prepared + 1
  return prepared[at]
end
"""
        + WRK_REPORT
    )


def _read_keys(dsn: str, org: str, count: int) -> str:
    """``count`` API keys with `read` for the dashboards, comma-separated."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select (observai.create_api_key(%s, 'dashboard ' || g, '{read}')).api_key "
            "from generate_series(1, %s) g",
            [org, count],
        ).fetchall()
    return ",".join(str(row[0]) for row in rows)


def _organization(dsn: str) -> tuple[str, str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        org = conn.execute(
            "insert into observai.organizations (name, slug, tier) "
            "values ('Bench', 'bench', 'enterprise') returning id"
        ).fetchall()[0][0]
        key = conn.execute(
            "select api_key from observai.create_api_key(%s, 'bench', '{ingest,read}')", [org]
        ).fetchall()[0][0]
    return str(org), str(key)


def _copy_baseline(dsn: str, org: str, work_dir: str) -> float:
    """Points/s of psql's COPY of 1,000,000 points."""
    rows = 1_000_000
    data = f"{work_dir}/points.tsv"
    now = dt.datetime.now(dt.UTC)
    with open(data, "w") as out:
        for i in range(rows):
            at = (now - dt.timedelta(milliseconds=i)).isoformat()
            out.write(f"{org}\tcopy.{i % SERIES}\t{i % 97}\t{{}}\t{at}\n")
    params = conninfo_to_dict(dsn)
    started = time.monotonic()
    subprocess.run(
        [str(system.PG_BIN / "psql"), "-q", "-h", str(params["host"]), "-p",
         str(params["port"]), "-U", str(params["user"]), str(params["dbname"]), "-c",
         f"\\copy observai.metrics (organization_id, name, value, tags, ts) from '{data}'"],
        check=True, env={"PGPASSWORD": str(params["password"]), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return rows / (time.monotonic() - started)


def _generate(dsn: str, org: str, points: int) -> float:
    """``points`` points over the last 24 hours in SERIES series, then the rollups; seconds."""
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        step = 86_400 / (points / SERIES)
        conn.execute(
            "insert into observai.metrics (organization_id, name, value, ts) "
            "select %s, 'series.' || (i %% %s), (i %% 113)::float8, "
            "  now() - make_interval(secs => (i / %s) * %s) "
            "from generate_series(0, %s - 1) i",
            [org, SERIES, SERIES, step, points],
        )
        # a day of points at once is a backfill: recorded as ingest records one, so the
        # aggregation re-rolls the series from their first point
        conn.execute(
            "insert into observai.late_points select %s, 'series.' || s, now() - interval '1 day' "
            "from generate_series(0, %s - 1) s on conflict do nothing",
            [org, SERIES],
        )
        conn.execute("vacuum analyze observai.metrics")
        conn.execute("select * from observai.aggregate()")
        conn.execute("vacuum analyze observai.rollups")
    return time.monotonic() - started


def compare(args: argparse.Namespace) -> list[Comparison]:
    """The deployment, ingest next to COPY and the series read next to its SQL, the figures
    printed; the comparisons returned (for bench.functions_vs_sql)."""
    with deployed(apps=["observai"], redis=True) as (services, work):
        dsn = services.dsn()
        org, key = _organization(dsn)
        env_vars = {"ANON_KEY": services.credentials.anon_key, "API_KEY": key}
        now = dt.datetime.now(dt.UTC).isoformat()
        batch = [{"name": f"ingest.{i % SERIES}", "value": i % 97, "tags": {"host": "bench"},
                  "timestamp": now} for i in range(BATCH)]  # fmt: skip
        body = work / "batch.json"
        body.write_text(json.dumps({"metrics": batch}))
        script = work / "ingest.lua"
        script.write_text(INGEST_SCRIPT)
        insert = work / "insert.sql"
        values = ",\n".join(
            f"('{org}', 'insert.{i % SERIES}', {i % 97}, '{{\"host\": \"bench\"}}', now())"
            for i in range(BATCH)
        )
        insert.write_text(
            "insert into observai.metrics (organization_id, name, value, tags, ts) values\n"
            f"{values};\n"
        )
        print(f"1. ingest: batches of {BATCH} points, {args.clients} connections, "
              f"{args.seconds} s per path")  # fmt: skip
        url = f"{services.runtime_url}/functions/v1/ingest"
        with patch.dict(os.environ, env_vars):  # wrk reads the keys here, never from argv
            function = measured(
                wrk(url, script, clients=args.clients, seconds=args.seconds, args=[str(body)]),
                "function",
            )
        sql = measured(
            pgbench(dsn, insert, work, clients=args.clients, seconds=args.seconds),
            "INSERT",
        )
        copy_rate = _copy_baseline(dsn, org, str(work))
        function.print("requests", "1,000 points each")
        sql.print("requests", "1,000 points each")
        print(f"  {'COPY':<13} {copy_rate:8.0f} points/s (1,000,000 points, one psql \\copy)")
        fn_points, sql_points = function.rate * BATCH, sql.rate * BATCH
        print(f"  points/s: function {fn_points:.0f} ({100 * fn_points / copy_rate:.0f} % of "
              f"COPY), INSERT {sql_points:.0f} ({100 * sql_points / copy_rate:.0f} % of COPY); "
              f"target >= 50,000 through the function: {fn_points >= 50_000}")  # fmt: skip

        seconds = _generate(dsn, org, args.points)
        with psycopg.connect(dsn) as conn:
            buckets = conn.execute(
                "select count(*) from observai.rollups where organization_id = %s "
                "and resolution = '5m'",
                [org],
            ).fetchall()[0][0]
        print(f"2. a 24 h series by 5 min over {args.points:,} points in {SERIES} series "
              f"(generated and rolled up in {seconds:.0f} s: {buckets} 5-minute buckets), "
              "the cache off")  # fmt: skip
        redis = services.env.redis(services.credentials)
        assert redis is not None
        redis.stop()  # every request reaches Postgres
        end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        start = end - dt.timedelta(hours=24)
        series_script = work / "series.lua"
        series_script.write_text(
            _series_script(start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"))
        )
        # the series as rows, and as the statement metrics sends (the points as JSON)
        query, as_json = work / "series.sql", work / "series_json.sql"
        arguments = f"'{org}', 'series.' || :s, '{start.isoformat()}', '{end.isoformat()}', 300"
        for script, select in ((query, "* from observai.series"),
                               (as_json, "observai.series_json")):  # fmt: skip
            script.write_text(f"\\set s random(0, {SERIES - 1})\n"
                              f"select {select}({arguments}, 'avg');\n")  # fmt: skip
        dashboards = Callers.within_limit(
            "observai", "metrics", args.seconds, FASTEST_READS, warmed=True
        )
        env_vars["API_KEYS"] = _read_keys(dsn, org, dashboards.count)
        with patch.dict(os.environ, env_vars):  # wrk reads the keys here, never from argv
            read = measured(
                wrk(f"{services.runtime_url}/functions/v1/metrics", series_script,
                    clients=args.clients, seconds=args.seconds, args=[], warmed=True),
                "function",
            )  # fmt: skip
        direct, own = (
            measured(pgbench(dsn, script, work, clients=args.clients, seconds=args.seconds,
                             warmed=True), label)
            for script, label in ((query, "SQL"), (as_json, "SQL as JSON"))
        )  # fmt: skip
        read.print("requests", callers=dashboards)
        direct.print("requests")
        own.print("requests")
        print(f"  target p95 < 100 ms through the function: {read.p95_ms < 100}; "
              f"function / SQL throughput {100 * read.rate / direct.rate:.0f} %, "
              f"/ its own statement {100 * read.rate / own.rate:.0f} %")  # fmt: skip
        copied = PathResult("COPY", 1_000_000, 1_000_000 / copy_rate, 0.0, 0.0, 0, {})
        return [
            Comparison(f"`ingest` ({args.clients} connections, batches of {BATCH})", "points",
                       function, copied, per_request=BATCH),
            Comparison(f"`metrics`, 24 h by 5 min, cache off ({args.clients} connections)",
                       "requests", read, direct, statement=own),
        ]  # fmt: skip


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--points", type=int, default=10_000_000)
    return parser.parse_args(argv)


def main() -> None:
    compare(arguments())


if __name__ == "__main__":
    main()
