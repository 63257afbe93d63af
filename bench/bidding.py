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
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from applier.engine import deploy
from supastack.local.credentials import sign_jwt
from tests.conftest import start_services
from tests.e2e.conftest import local_config

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
    place: Callable[[str, str, float], bool], sessions: list[tuple[str, list[str]]]
) -> tuple[list[float], int]:
    """Each session in its own thread; returns per-bid latencies (ms) and the successes."""
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

    threads = [threading.Thread(target=session_load, args=s) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, ok[0]


def report(label: str, latencies: list[float], ok: int) -> float:
    p95 = statistics.quantiles(latencies, n=20)[18]
    total = len(latencies)
    print(f"  {label:<18} {ok}/{total} succeeded ({100 * ok / total:.1f} %), "
          f"p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms")  # fmt: skip
    return statistics.median(latencies)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="supastack-bench-") as tmp:
        Path(tmp).chmod(0o755)
        services = start_services(Path(tmp) / "target")
        try:
            deploy(local_config(services))
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

                function_latencies, function_ok = run(through_function, setup_sessions(dsn))

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

            sql_latencies, sql_ok = run(through_sql, setup_sessions(dsn))
            bidders = SESSIONS * BIDDERS
            print(f"{SESSIONS} sessions x {BIDS} bids, concurrent sessions, {bidders} bidders")
            function_p50 = report("through submit-bid", function_latencies, function_ok)
            sql_p50 = report("SQL directly", sql_latencies, sql_ok)
            print(f"  ratio of medians (function / SQL): {function_p50 / sql_p50:.1f}x")
            print("  guide targets: > 95 % succeed, p95 < 200 ms (through the function)")
        finally:
            services.env.down(report=lambda _: None)


if __name__ == "__main__":
    main()
