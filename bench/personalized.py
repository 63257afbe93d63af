"""The guide's load test: 50 virtual users on `transaction-recommendations`, next to the same
work as SQL directly, in the same run.

The local stack's personalized app is deployed to a throwaway target by the offline harness,
with its synthetic population (1,000 users with archetypes), copied until it has enough users
that none meets the functions' rate limit (120 a minute per user) in a run at up to FASTEST
requests/s: 6,000 users for 10 s, 20,000 for 60 s (whole copies). Then, for ``--seconds``
seconds each (the guide's 60 by default):

- through `GET /functions/v1/transaction-recommendations` (gateway JWT check, middleware,
  rate limit, the flag, the recommendation with its log row, the invocation row), driven by wrk
  with 50 connections, each request as one of the synthetic users (tokens signed beforehand);
- as `select personalized.recommend(...)` for the same users on 50 connections, driven by
  pgbench.

Then the same for `user-archetype` (each user asking for their own archetype) against
`personalized.archetype_of(...)`, and its floor (bench.floor: the same statement from a bare
server with none of the function's checks).

Prints requests/s, p50 / p95 and the error rate of each, against the guide's targets (>= 100
req/s, p95 < 300 ms, errors < 1 %), the function path's share of the SQL path's throughput, and
where the CPU went per request.

    .venv/bin/python -m bench.personalized [--seconds 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from contextlib import ExitStack

import psycopg

from bench import deno_scripts, floor
from bench.load import (
    WRK_PREPARED,
    WRK_REPORT,
    Callers,
    Comparison,
    deployed,
    pgbench,
    side_by_side,
    wrk,
)
from supastack.local.credentials import sign_jwt

CLIENTS = 50
FLAG = "pattern_1_personalized_defaults"
#: The highest rate the callers are sized for (above either SQL path on the 2-core machine).
FASTEST = 40_000
SLUGS = ("transaction-recommendations", "user-archetype")
#: The function's own statement (``$1``: the caller) where a floor is measured (bench.floor).
FLOORS = {"user-archetype": "select personalized.archetype_of($1, false, $1) as answer"}

WRK_SCRIPT = (
    WRK_PREPARED
    + """
function prepare(line)
  local token, query = line:match("([^\\t]+)\\t(.+)")
  return wrk.format("GET", wrk.path .. query, {["Authorization"] = "Bearer " .. token})
end
"""
)

PGBENCH_SCRIPT = """\\set n random(1, {users})
select personalized.recommend(p.user_id, false, p.user_id, p.roommate_id,
  current_date + 10, true) from public.bench_pairs p where p.n = :n;
"""


def populate(dsn: str, users: int) -> None:
    """Copies of the synthetic population (each user with their roommate and history, under
    new ids) until it has at least ``users``, then every archetype computed, as the seed does."""
    clone = "md5('personalized-bench-' || c || '-' || {})::uuid"
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select count(*) from personalized.users where synthetic").fetchone()
        copies = math.ceil(users / row[0]) - 1 if row else 0
        if copies <= 0:
            return
        conn.execute("create temporary table originals on commit drop as "
                     "select user_id from personalized.users where synthetic")  # fmt: skip
        conn.execute(
            f"insert into personalized.users (user_id, synthetic) select {clone.format('user_id')}"
            ", true from originals cross join generate_series(1, %s) c", [copies]
        )  # fmt: skip
        conn.execute(
            "insert into personalized.roommates (user_id, roommate_id) select "
            f"{clone.format('r.user_id')}, {clone.format('r.roommate_id')} from "
            "personalized.roommates r join originals using (user_id) "
            "cross join generate_series(1, %s) c", [copies]
        )  # fmt: skip
        conn.execute(
            "insert into personalized.transactions (user_id, roommate_id, option, amount_cents, "
            f"days_notice, created_at) select {clone.format('t.user_id')}, "
            f"{clone.format('t.roommate_id')}, option, amount_cents, days_notice, created_at "
            "from personalized.transactions t join originals using (user_id) "
            "cross join generate_series(1, %s) c", [copies]
        )  # fmt: skip
        conn.execute("select personalized.recalculate_all()")


def pairs(dsn: str) -> list[tuple[str, str]]:
    """The synthetic users and their roommates, also as the table pgbench reads."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "create table public.bench_pairs as select row_number() over (order by user_id) "
            "as n, user_id, roommate_id from personalized.roommates "
            "join personalized.users using (user_id) where synthetic"
        )
        # pgbench finds its pair by number: by index, as the function is handed its ids
        conn.execute("alter table public.bench_pairs add primary key (n)")
        rows = conn.execute("select user_id, roommate_id from public.bench_pairs order by n")
        return [(str(user), str(roommate)) for user, roommate in rows.fetchall()]


ARCHETYPE_SQL = """\\set n random(1, {users})
select personalized.archetype_of(p.user_id, false, p.user_id) from public.bench_pairs p
where p.n = :n;
"""


def compare(seconds: int) -> list[Comparison]:
    """The deployment, both paths of `transaction-recommendations` and `user-archetype`, and
    the figures printed; the comparisons returned (for bench.functions_vs_sql)."""
    flags = {FLAG: {"enabled": True, "percentage": 100}}
    with deployed(apps=["personalized"], flags=flags) as (services, work):
        dsn = services.dsn()
        callers = max((Callers.within_limit("personalized", slug, seconds, FASTEST,
                                           warmed=True)
                       for slug in SLUGS), key=lambda c: c.count)  # fmt: skip
        populate(dsn, callers.count)
        users = pairs(dsn)
        target = (dt.date.today() + dt.timedelta(days=10)).isoformat()
        secret = services.credentials.jwt_secret
        tokens = [sign_jwt(secret, {"role": "authenticated", "sub": user}) for user, _ in users]
        lines, own = work / "requests.tsv", work / "own.tsv"
        with lines.open("w") as out, own.open("w") as mine:
            for token, (user, roommate) in zip(tokens, users, strict=True):
                out.write(f"{token}\t?targetDate={target}&roommateId={roommate}\n")
                mine.write(f"{token}\t?userId={user}\n")
        script = work / "recommend.lua"
        script.write_text(WRK_SCRIPT + WRK_REPORT)
        print(f"{CLIENTS} virtual users, {seconds} s per path, {len(users)} synthetic "
              "users with archetypes (the flag on for all)")  # fmt: skip
        compared = []
        for slug, requests, sql in zip(SLUGS, (lines, own), (PGBENCH_SCRIPT, ARCHETYPE_SQL),
                                       strict=True):  # fmt: skip
            sql_script = work / f"{slug}.sql"
            sql_script.write_text(sql.format(users=len(users)))
            url = f"{services.runtime_url}/functions/v1/{slug}"
            with ExitStack() as stack:
                bare = None
                if slug in FLOORS:
                    served = floor.serving(deno_scripts.functions_dsn(services.env), FLOORS[slug])
                    load = wrk(stack.enter_context(served), script, clients=CLIENTS,
                               seconds=seconds, args=[str(requests)], warmed=True)  # fmt: skip
                    bare = ("floor", load)
                compared.append(side_by_side(
                    f"`{slug}` ({CLIENTS} clients)", "requests",
                    (slug, wrk(url, script, clients=CLIENTS, seconds=seconds,
                               args=[str(requests)], warmed=True)),
                    ("SQL", pgbench(dsn, sql_script, work, clients=CLIENTS, seconds=seconds,
                                    warmed=True)),
                    floor=bare, callers=callers,
                ))  # fmt: skip
            function = compared[-1].function
            met = (function.rate >= 100, function.p95_ms < 300, function.error_rate < 0.01)
            print(f"  the guide's targets through the function: >= 100 req/s {met[0]}, "
                  f"p95 < 300 ms {met[1]}, errors < 1 % {met[2]}")  # fmt: skip
        return compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    compare(parser.parse_args().seconds)


if __name__ == "__main__":
    main()
