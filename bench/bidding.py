"""The bidding guide's load through submit-bid, next to the same bids inserted by SQL directly.

The local stack's bidding app is deployed to a throwaway target by the offline harness. Each
path gets its own 200 open sessions (starting price 100, increment 5) with their bidders, then
``--seconds`` of bids on 20 connections, both from compiled load generators (a Python client
spent a core of this 2-core machine on itself and measured its own speed): wrk through
``POST /functions/v1/submit-bid`` (JWT check, middleware, the exact per-user limit, the insert
and the session's answer), pgbench as direct inserts into ``public.bids`` (the same triggers).
The n-th bid on a session bids 100 + 5n (its minimum when every bid before it succeeded) as
the session's next bidder in turn; a session's bids go one after another (a session is bid on
by one wrk thread, every 100th of its requests, with 10 connections; by one pgbench client),
so a refused bid is a failure, not a race. Enough bidders that none meets the function's
limit (the guide's 10 bids a minute) at up to FASTEST bids/s. Prints bids/s, p50 / p95, CPU
per bid and the share; the guide's targets: > 95 % of valid bids succeed, p95 < 200 ms.

    .venv/bin/python -m bench.bidding [--seconds 10]   (a module: it deploys with the harness)
"""

from __future__ import annotations

import argparse
import math
import uuid

import psycopg

from bench.load import (
    WRK_REPORT,
    WRK_THREADS,
    Callers,
    Comparison,
    deployed,
    pgbench,
    side_by_side,
    wrk,
)
from supastack.local.credentials import sign_jwt

CLIENTS, SESSIONS, START, INCREMENT = 20, 200, 100, 5
#: The most bids a second the bidders are made for (above the SQL path on the 2-core machine).
FASTEST = 5_000
#: Where the bidders' ids start (a session's bidders are ``BIDDERS_FROM + 1000 * session + b``).
BIDDERS_FROM = 1 << 40

#: One line per session: its id, then its bidders' tokens, tab-separated.
FUNCTION_SCRIPT = (
    WRK_THREADS
    + """
local sessions = {}
function init(args)
  thread_id = id
  for line in io.lines(args[1]) do
    local fields = {}
    for field in line:gmatch("[^\\t]+") do fields[#fields + 1] = field end
    sessions[#sessions + 1] = fields
  end
end
function request()
  local n = counter * threads + thread_id
  counter = counter + 1
  local session = sessions[n % #sessions + 1]
  local round = math.floor(n / #sessions)
  local token = session[round % (#session - 1) + 2]
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json"},
    string.format('{"sessionId":"%s","amount":%d}', session[1], """
    + f"{START} + {INCREMENT} * round"
    + """))
end
"""
    + WRK_REPORT
)


def uuid_of(number: int) -> str:
    return str(uuid.UUID(int=number))


def bidders(seconds: int) -> Callers:
    """Enough that none meets submit-bid's limit in the run at FASTEST (bench.load.Callers)."""
    return Callers.within_limit("bidding", "submit-bid", seconds, FASTEST)


def open_sessions(dsn: str, first: int, bidders: int) -> None:
    """Sessions ``first`` .. ``first + SESSIONS - 1`` (their ids the numbers as UUIDs), open
    for an hour, each with its bidders."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "insert into public.bidding_sessions (session_id, title, owner_id, starting_price, "
            "min_increment, ends_at) select lpad(to_hex(s), 32, '0')::uuid, 'bench', "
            "gen_random_uuid(), %(start)s, %(increment)s, now() + interval '1 hour' "
            "from generate_series(%(first)s::int, %(last)s::int) s",
            {"start": START, "increment": INCREMENT, "first": first, "last": first + SESSIONS - 1},
        )
        conn.execute(
            "insert into public.bidding_participants (session_id, user_id) "
            "select lpad(to_hex(s), 32, '0')::uuid, "
            "lpad(to_hex(%(from)s::bigint + 1000 * s + b), 32, '0')::uuid "
            "from generate_series(%(first)s::int, %(last)s::int) s, "
            "generate_series(0, %(bidders)s::int - 1) b",
            {"from": BIDDERS_FROM, "first": first, "last": first + SESSIONS - 1,
             "bidders": bidders},
        )  # fmt: skip


def sql_script(first: int, bidders: int) -> str:
    """A pgbench client's next bid: client c bids on sessions c, c + 20, ... in turn (``n``,
    its bids so far, starts at 0)."""
    per_client = SESSIONS // CLIENTS
    return f"""\\set s {first} + :client_id + {CLIENTS} * (:n % {per_client})
\\set round :n / {per_client}
\\set n :n + 1
insert into public.bids (session_id, user_id, amount) values (
  lpad(to_hex(:s::bigint), 32, '0')::uuid,
  lpad(to_hex({BIDDERS_FROM} + 1000 * :s::bigint + :round::bigint % {bidders}), 32, '0')::uuid,
  {START} + {INCREMENT} * :round::bigint);
"""


def compare(seconds: int) -> list[Comparison]:
    """The deployment and both paths, the figures printed; the comparison returned (for
    bench.functions_vs_sql)."""
    needed = bidders(seconds)
    per_session = max(10, math.ceil(needed.count / SESSIONS))
    with deployed(apps=["bidding"]) as (services, work):
        dsn, secret = services.dsn(), services.credentials.jwt_secret
        open_sessions(dsn, 1, per_session)
        open_sessions(dsn, 1 + SESSIONS, per_session)
        lines = work / "sessions.tsv"
        with lines.open("w") as out:
            for s in range(1, 1 + SESSIONS):
                tokens = (
                    sign_jwt(secret, {"role": "authenticated",
                                      "sub": uuid_of(BIDDERS_FROM + 1000 * s + b)})
                    for b in range(per_session)
                )  # fmt: skip
                out.write("\t".join([uuid_of(s), *tokens]) + "\n")
        script, sql = work / "bids.lua", work / "bids.sql"
        script.write_text(FUNCTION_SCRIPT)
        sql.write_text(sql_script(1 + SESSIONS, per_session))
        url = f"{services.runtime_url}/functions/v1/submit-bid"
        print(f"{SESSIONS} sessions a path, {per_session} bidders each, {CLIENTS} connections, "
              f"{seconds} s")  # fmt: skip
        comparison = side_by_side(
            f"`submit-bid` ({CLIENTS} connections)",
            "bids",
            ("submit-bid", wrk(url, script, clients=CLIENTS, seconds=seconds, args=[str(lines)])),
            ("SQL", pgbench(dsn, sql, work, clients=CLIENTS, seconds=seconds, define="n=0")),
            callers=needed,
        )  # fmt: skip
        fn = comparison.function
        with psycopg.connect(dsn) as conn:
            split = uuid_of(SESSIONS)
            row = conn.execute(
                "select count(*) filter (where session_id <= %(split)s), "
                "count(*) filter (where session_id > %(split)s) from public.bids "
                "where not is_auto", {"split": split},
            ).fetchone()  # fmt: skip
        assert row is not None
        print(f"  bids recorded: {row[0]} through submit-bid ({fn.done} answered 2xx), "
              f"{row[1]} by SQL ({comparison.baseline.done} transactions)")  # fmt: skip
        print(f"  guide targets (through the function): > 95 % succeed "
              f"({100 * (1 - fn.error_rate):.1f} %), "
              f"p95 < 200 ms ({fn.p95_ms:.1f} ms)")  # fmt: skip
        return [comparison]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per path")
    compare(parser.parse_args().seconds)


if __name__ == "__main__":
    main()
