"""The bidding guide's load profile through submit-bid, next to the same load on SQL directly.

The local stack (bidding app included) is deployed to a throwaway target by the offline harness.
Then 20 sessions run concurrently (one thread each), 30 bids per session, every bid at the
current price plus the increment, rotating over 10 bidders per session (200 distinct users, 3
bids each: the 10-per-minute limit per user is not what gets measured). The same profile runs
once through `POST /functions/v1/submit-bid` (JWT check, middleware, rate limit, invocation row)
and once as direct inserts into `public.bids` (the same triggers). Prints success rates, p50 /
p95 latency and the ratio. The guide's targets: > 95 % of valid bids succeed, p95 < 200 ms.

    .venv/bin/python -m bench.bidding      (a module: it uses the test harness to deploy)
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import psycopg

from bench.load import Comparison, PathResult, deployed, measured
from supastack.local.credentials import sign_jwt

SESSIONS, BIDS, BIDDERS = 20, 30, 10


def setup_sessions(dsn: str) -> list[tuple[str, list[str]]]:
    sessions = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(SESSIONS):
            users = [str(uuid.uuid4()) for _ in range(BIDDERS)]
            row = conn.execute(
                "insert into public.bidding_sessions (title, owner_id, starting_price, "
                "min_increment, ends_at) values ('bench', gen_random_uuid(), 100, 5, "
                "now() + interval '1 hour') returning session_id"
            ).fetchone()
            assert row is not None
            for user in users:
                conn.execute(
                    "insert into public.bidding_participants (session_id, user_id) values (%s, %s)",
                    [row[0], user],
                )
            sessions.append((str(row[0]), users))
    return sessions


def run(
    label: str, place: Callable[[str, str, float], bool], sessions: list[tuple[str, list[str]]]
) -> PathResult:
    """Each session in its own thread; the bids placed (a refused bid counts as failed), the
    wall time, the latencies and the CPU used."""
    latencies: list[float] = []
    ok = [0]
    lock = threading.Lock()

    def session_load(session: str, users: list[str]) -> None:
        price = 100.0
        for i in range(BIDS):
            amount = price if i == 0 else price + 5
            started = time.perf_counter()
            success = place(session, users[i % BIDDERS], amount)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                ok[0] += success
            price = amount if success else price

    def all_sessions() -> tuple[int, float, float, float, int]:
        threads = [threading.Thread(target=session_load, args=s) for s in sessions]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        p95 = statistics.quantiles(latencies, n=20)[18]
        return ok[0], wall, statistics.median(latencies), p95, len(latencies) - ok[0]

    return measured(all_sessions, label)


def report(result: PathResult) -> None:
    total = result.done + result.failed
    print(f"  {result.label:<18} {result.done}/{total} succeeded "
          f"({100 * result.done / total:.1f} %), {result.rate:.0f} bids/s, "
          f"p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms")  # fmt: skip


def compare() -> list[Comparison]:
    """The deployment and both paths, the figures printed; the comparison returned (for
    bench.functions_vs_sql)."""
    with deployed(apps=["bidding"]) as (services, _):
        dsn = services.dsn()
        url = f"{services.runtime_url}/functions/v1/submit-bid"
        secret = services.credentials.jwt_secret
        tokens: dict[str, str] = {}

        with httpx.Client(limits=httpx.Limits(max_connections=SESSIONS)) as client:

            def through_function(session: str, user: str, amount: float) -> bool:
                token = tokens.setdefault(
                    user, sign_jwt(secret, {"role": "authenticated", "sub": user})
                )
                answer = client.post(
                    url,
                    headers={"Authorization": f"Bearer {token}"},
                    json={"sessionId": session, "amount": amount},
                )
                return answer.status_code == 201

            function = run("through submit-bid", through_function, setup_sessions(dsn))

        local = threading.local()

        def through_sql(session: str, user: str, amount: float) -> bool:
            if not hasattr(local, "conn"):
                local.conn = psycopg.connect(dsn, autocommit=True)
            try:
                local.conn.execute(
                    "insert into public.bids (session_id, user_id, amount) values (%s, %s, %s)",
                    [session, user, amount],
                )
            except psycopg.Error:
                return False
            return True

        direct = run("SQL", through_sql, setup_sessions(dsn))
        print(f"{SESSIONS} sessions x {BIDS} bids, concurrent sessions, {SESSIONS * BIDDERS} "
              "bidders (one Python client for both paths)")  # fmt: skip
        report(function)
        report(direct)
        print(f"  ratio of medians (function / SQL): {function.p50_ms / direct.p50_ms:.1f}x")
        print("  guide targets: > 95 % succeed, p95 < 200 ms (through the function)")
        path = f"`submit-bid` ({SESSIONS} sessions x {BIDS} bids)"
        return [Comparison(path, "bids", function, direct)]


def main() -> None:
    compare()


if __name__ == "__main__":
    main()
