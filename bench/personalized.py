"""The guide's load test: 50 virtual users on `transaction-recommendations`, next to the same
work as SQL directly, in the same run.

The local stack's personalized app is deployed to a throwaway target by the offline harness,
with its synthetic population (1,000 users with archetypes). Then, for ``--seconds`` seconds
each (the guide's 60 by default):

- through `GET /functions/v1/transaction-recommendations` (gateway JWT check, middleware,
  rate limit, the flag, the recommendation with its log row, the invocation row), driven by wrk
  with 50 connections, each request as one of the synthetic users (tokens signed beforehand);
- as `select personalized.recommend(...)` for the same users on 50 connections, driven by
  pgbench.

Prints requests/s, p50 / p95 and the error rate of each, against the guide's targets (>= 100
req/s, p95 < 300 ms, errors < 1 %), the function path's share of the SQL path's throughput, and
where the CPU went per request.

    .venv/bin/python -m bench.personalized [--seconds 60]
"""

from __future__ import annotations

import argparse
import datetime as dt

import psycopg

from bench.load import WRK_LINES, WRK_REPORT, deployed, measured, pgbench, wrk
from supastack.local.credentials import sign_jwt

CLIENTS = 50
FLAG = "pattern_1_personalized_defaults"

WRK_SCRIPT = (
    WRK_LINES
    + """
function request()
  local token, query = next_line():match("([^\\t]+)\\t(.+)")
  return wrk.format("GET", wrk.path .. query, {["Authorization"] = "Bearer " .. token})
end
"""
)

PGBENCH_SCRIPT = """\\set n random(1, {users})
select personalized.recommend(p.user_id, false, p.user_id, p.roommate_id,
  current_date + 10, true) from public.bench_pairs p where p.n = :n;
"""


def pairs(dsn: str) -> list[tuple[str, str]]:
    """The synthetic users and their roommates, also as the table pgbench reads."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "create table public.bench_pairs as select row_number() over (order by user_id) "
            "as n, user_id, roommate_id from personalized.roommates "
            "join personalized.users using (user_id) where synthetic"
        )
        rows = conn.execute("select user_id, roommate_id from public.bench_pairs order by n")
        return [(str(user), str(roommate)) for user, roommate in rows.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    flags = {FLAG: {"enabled": True, "percentage": 100}}
    with deployed(apps=["personalized"], flags=flags) as (services, work):
        dsn = services.dsn()
        users = pairs(dsn)
        target = (dt.date.today() + dt.timedelta(days=10)).isoformat()
        lines = work / "requests.tsv"
        secret = services.credentials.jwt_secret
        with lines.open("w") as out:
            for user, roommate in users:
                token = sign_jwt(secret, {"role": "authenticated", "sub": user})
                out.write(f"{token}\t?targetDate={target}&roommateId={roommate}\n")
        script = work / "recommend.lua"
        script.write_text(WRK_SCRIPT + WRK_REPORT)
        sql_script = work / "recommend.sql"
        sql_script.write_text(PGBENCH_SCRIPT.format(users=len(users)))
        print(f"{CLIENTS} virtual users, {args.seconds} s per path, {len(users)} synthetic "
              "users with archetypes (the flag on for all)")  # fmt: skip
        url = f"{services.runtime_url}/functions/v1/transaction-recommendations"
        function = measured(
            wrk(url, script, clients=CLIENTS, seconds=args.seconds, args=[str(lines)]),
            "function",
        )
        sql = measured(
            pgbench(dsn, sql_script, work, clients=CLIENTS, seconds=args.seconds),
            "SQL directly",
        )
        function.print("requests")
        sql.print("requests")
        met = (function.rate >= 100, function.p95_ms < 300, function.error_rate < 0.01)
        print(f"  the guide's targets through the function: >= 100 req/s {met[0]}, "
              f"p95 < 300 ms {met[1]}, errors < 1 % {met[2]}")  # fmt: skip
        print(f"  function path / SQL path: {100 * function.rate / sql.rate:.0f} %")


if __name__ == "__main__":
    main()
