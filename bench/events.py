"""Bookings through the `book` function, next to the same load on the booking RPC directly.

The local stack's events app is deployed to a throwaway target by the offline harness. Then,
for each path in the same run, 50 concurrent clients book for ``--seconds`` seconds over 400
upcoming events (a tenth with 5 seats, so they fill and waitlist; the rest with 500), each
booking by a new customer with a new Idempotency-Key:

- through `POST /functions/v1/book` (gateway JWT check, middleware, rate limit, the RPC,
  invocation row), driven by wrk (50 connections, tokens signed beforehand);
- as `select * from events.book(...)` on 50 connections, driven by pgbench.

Then an anonymous visitor's search of one organization's next 50 events through
`events-search`, next to its query on the read model.

Compiled load generators on both sides: a Python client spent a core of this 2-core machine
on itself and measured its own speed. Prints bookings per second, p50 / p95, the
confirmed / waitlisted split, overbooked events (must be 0), the function path's share of the
SQL path's throughput, and where the CPU went per booking (Postgres, the edge runtime, the
load generator). Targets: >= 500 bookings/s and p95 < 300 ms through the function, 0
overbookings, the function path >= 50 % of the SQL path.

    .venv/bin/python -m bench.events [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path
from unittest.mock import patch

import psycopg

from bench.load import (
    WRK_LINES,
    WRK_REPORT,
    Callers,
    Comparison,
    Run,
    deployed,
    measured,
    pgbench,
    side_by_side,
    wrk,
)
from supastack.local.credentials import sign_jwt
from tests.conftest import Services

EVENTS, SMALL_EVERY, SMALL, LARGE, CLIENTS = 400, 10, 5, 500, 50
#: The most bookings a second the customers are made for (more than twice the SQL path's rate on
#: the 2-core machine): past it, wrk would send a customer's booking again, which book refuses.
FASTEST = 6_000

#: wrk: one pre-signed customer token and event per request; a fresh Idempotency-Key each.
WRK_SCRIPT = (
    WRK_LINES
    + """
function request()
  local token, event = next_line():match("([^\\t]+)\\t(.+)")
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "bench-" .. thread_id .. "-" .. counter,
    ["Content-Type"] = "application/json",
  }, '{"eventId": "' .. event .. '", "paymentMethod": "none"}')
end
"""
)

PGBENCH_SCRIPT = """\\set n random(1, {events})
select * from events.book((select id from public.bench_events where n = :n),
  gen_random_uuid(), gen_random_uuid()::text, 'none');
"""


def make_events(dsn: str, table: str | None = None) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        org = conn.execute(
            "insert into events.organizations (slug, name, path) values (%s, 'bench', %s) "
            "returning id",
            [f"bench-{uuid.uuid4().hex[:8]}", f"bench_{uuid.uuid4().hex[:8]}"],
        ).fetchone()
        assert org is not None
        rows = conn.execute(
            "insert into events.class_events (org_id, title, starts_at, ends_at, capacity) "
            "select %s, 'bench', now() + make_interval(days => 1 + g %% 60), "
            "now() + make_interval(days => 1 + g %% 60, hours => 1), "
            "case when g %% %s = 0 then %s else %s end "
            "from generate_series(1, %s) g returning id",
            [org[0], SMALL_EVERY, SMALL, LARGE, EVENTS],
        ).fetchall()
        ids = [str(r[0]) for r in rows]
        if table:
            conn.execute(f"create table public.{table} (n int primary key, id uuid)".encode())
            with conn.cursor().copy(f"copy public.{table} (n, id) from stdin".encode()) as copy:
                for n, event in enumerate(ids, 1):
                    copy.write_row((n, event))
    return ids


def split(dsn: str, events: list[str]) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select status, count(*) from events.registrations where event_id = any(%s::uuid[]) "
            "group by status order by status",
            [events],
        ).fetchall()
    return ", ".join(f"{status} {count}" for status, count in rows)


def overbooked(dsn: str, events: list[str]) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from (select e.id from events.class_events e "
            "left join events.registrations r on r.event_id = e.id and r.status = 'confirmed' "
            "where e.id = any(%s::uuid[]) group by e.id, e.reg_count, e.capacity "
            "having count(r.id) <> e.reg_count or count(r.id) > e.capacity) bad",
            [events],
        ).fetchone()
    return int(row[0]) if row else -1


def through_function(services: Services, events: list[str], customers: Callers, seconds: int,
                     work: Path) -> Run:  # fmt: skip
    secret = services.credentials.jwt_secret
    lines = work / "requests.tsv"
    with lines.open("w") as out:
        for i in range(customers.count):
            token = sign_jwt(secret, {"role": "authenticated", "sub": str(uuid.uuid4())})
            out.write(f"{token}\t{events[i % len(events)]}\n")
    script = work / "book.lua"
    script.write_text(WRK_SCRIPT + WRK_REPORT)
    url = f"{services.runtime_url}/functions/v1/book"
    return wrk(url, script, clients=CLIENTS, seconds=seconds, args=[str(lines)])


def through_sql(dsn: str, seconds: int, work: Path) -> Run:
    script = work / "book.sql"
    script.write_text(PGBENCH_SCRIPT.format(events=EVENTS))
    return pgbench(dsn, script, work, clients=CLIENTS, seconds=seconds)


#: One request, the same each time: wrk formats it once (a script without ``request()``).
SEARCH_SCRIPT = (
    """
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ANON_KEY")
"""
    + WRK_REPORT
)

SEARCH_ROWS = """\
select event_id, starts_at, ends_at, title, seats_left, price_cents, currency, org_slug,
       org_name, location_name, instructor_name
from events.event_search_mv where starts_at > now() and org_slug = '{slug}'
order by starts_at limit 50"""
SEARCH_SQL = SEARCH_ROWS + ";\n"
#: The statement events-search sends: the same rows' stored JSON (the read model's `listing`),
#: joined into the answer.
SEARCH_JSON = (
    "select coalesce('[' || string_agg(listing, ',' order by starts_at) || ']', '[]') from "
    "(select listing, starts_at from events.event_search_mv where starts_at > now() "
    "and org_slug = '{slug}' order by starts_at limit 50) e;\n"
)


def search(services: Services, work: Path, seconds: int) -> Comparison:
    """An anonymous visitor's search of one organization's next 50 events (the read model),
    through `events-search` and as its query."""
    with psycopg.connect(services.dsn(), autocommit=True) as conn:
        conn.execute("select events.refresh_all_materialized_views()")
        row = conn.execute("select org_slug from events.event_search_mv limit 1").fetchone()
    assert row is not None
    script, sql_script, json_script = work / "search.lua", work / "search.sql", work / "json.sql"
    script.write_text(SEARCH_SCRIPT)
    sql_script.write_text(SEARCH_SQL.format(slug=row[0]))
    json_script.write_text(SEARCH_JSON.format(slug=row[0]))
    url = f"{services.runtime_url}/functions/v1/events-search?org={row[0]}&limit=50"
    path = f"`events-search` ({CLIENTS} clients)"
    with patch.dict(os.environ, {"ANON_KEY": services.credentials.anon_key}):  # never in argv
        return side_by_side(
            path, "requests",
            ("events-search", wrk(url, script, clients=CLIENTS, seconds=seconds, args=[],
                                  warmed=True)),
            ("SQL", pgbench(services.dsn(), sql_script, work, clients=CLIENTS, seconds=seconds,
                            warmed=True)),
            statement=("SQL as JSON", pgbench(services.dsn(), json_script, work,
                                              clients=CLIENTS, seconds=seconds,
                                              warmed=True)),
        )  # fmt: skip


def compare(seconds: int) -> list[Comparison]:
    """The deployment, both paths of `book` and of `events-search`, the figures printed; the
    comparisons returned (for bench.functions_vs_sql)."""
    with deployed(apps=["events"]) as (services, work):
        dsn = services.dsn()
        small = EVENTS // SMALL_EVERY
        print(f"{CLIENTS} concurrent clients, {seconds} s per path, {EVENTS} events "
              f"({small} with {SMALL} seats), one customer per booking")  # fmt: skip
        function_events = make_events(dsn)
        sql_events = make_events(dsn, table="bench_events")
        customers = Callers.one_each(seconds, FASTEST)
        function = measured(
            through_function(services, function_events, customers, seconds, work),
            "through book",
        )
        sql = measured(through_sql(dsn, seconds, work), "SQL")
        function.print("bookings", split(dsn, function_events), customers)
        sql.print("bookings", split(dsn, sql_events))
        print(f"  overbooked events: {overbooked(dsn, function_events + sql_events)}")
        print(f"  function path / SQL path: {100 * function.rate / sql.rate:.0f} % (targets: "
              ">= 500 bookings/s and p95 < 300 ms through book, >= 50 %)")  # fmt: skip
        booking = Comparison(f"`book` ({CLIENTS} clients)", "bookings", function, sql)
        return [booking, search(services, work, seconds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    compare(parser.parse_args().seconds)


if __name__ == "__main__":
    main()
