"""functions/_shared (and the apps' shared `_lib` modules with tests) against the real cluster:
`deno test`, and the token bucket under load."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from supastack.local.paths import DENO_DIR, PROJECT_DIR, TOOLS_DIR
from tests.core.conftest import Database

FUNCTIONS = PROJECT_DIR / "functions"
#: The Deno tests of the code functions share: the middleware's, and apps' `_lib` modules
#: that run on the project's npm pins (an app pinning its own, functions/<app>/deno.json, is not
#: among them: its tests would need its config).
TEST_FILES = sorted(
    [*FUNCTIONS.glob("_shared/*_test.ts")]
    + [p for p in FUNCTIONS.glob("*/_lib/*_test.ts") if not (p.parents[1] / "deno.json").exists()]
)


def test_shared_middleware_deno_tests(monitoring: Database, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DENO_DIR": str(DENO_DIR),
        "NO_COLOR": "1",
        "SUPABASE_DB_URL": monitoring.url,
        "JOB_SECRET": secrets.token_urlsafe(16),
        "SUPABASE_SERVICE_ROLE_KEY": secrets.token_urlsafe(16),
        "SUPABASE_SECRET_KEYS": json.dumps({"default": f"sb_secret_{secrets.token_urlsafe(16)}"}),
        "SUPABASE_PUBLISHABLE_KEYS": json.dumps(
            {"default": f"sb_publishable_{secrets.token_urlsafe(16)}"}
        ),
        "ALLOWED_ORIGINS": "https://app.example,https://admin.example",
    }
    result = subprocess.run(
        [str(TOOLS_DIR / "node_modules/.bin/deno"), "test", "--frozen", "--allow-all",
         *(str(path.relative_to(FUNCTIONS)) for path in TEST_FILES)],
        cwd=FUNCTIONS,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    declared = sum(path.read_text().count("Deno.test(") for path in TEST_FILES)
    assert f"ok | {declared} passed | 0 failed" in result.stdout  # every test ran


def test_the_token_bucket_admits_exactly_its_capacity_under_concurrency(
    monitoring: Database,
) -> None:
    def take(_: int) -> float:
        with psycopg.connect(monitoring.conninfo, autocommit=True) as conn:
            row = conn.execute("select monitoring.take_token('burst', 5, 0.001)").fetchone()
        assert row is not None
        return float(row[0])

    with ThreadPoolExecutor(max_workers=20) as pool:
        waits = list(pool.map(take, range(20)))
    assert sorted(waits)[:5] == [0.0] * 5
    assert all(w > 0 for w in sorted(waits)[5:])
    assert min(w for w in waits if w > 0) > 900  # a token every 1000 s: about that long to wait


def test_settling_buckets_from_two_instances_at_once_debits_every_request_and_never_deadlocks(
    monitoring: Database,
) -> None:
    def settle(turn: int) -> None:
        keys = ["settle-a", "settle-b"] if turn % 2 else ["settle-b", "settle-a"]
        with psycopg.connect(monitoring.conninfo, autocommit=True) as conn:
            conn.execute(
                "select * from monitoring.settle_tokens(%s, '{1,1}', '{100,100}', '{0.001,0.001}')",
                [keys],
            )

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(settle, range(40)))
    with psycopg.connect(monitoring.conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "select key, tokens from monitoring.rate_limit_buckets where key like 'settle-%' "
            "order by key"
        ).fetchall()
        # an overdraft is capped at one window: the caller waits at most that long
        floor = conn.execute(
            "select tokens from monitoring.settle_tokens('{settle-c}', '{500}', '{10}', '{1}')"
        ).fetchall()
    assert [(key, round(tokens)) for key, tokens in rows] == [("settle-a", 60), ("settle-b", 60)]
    assert floor == [(-10.0,)]


def test_a_clock_stepped_back_costs_a_bucket_nothing(monitoring: Database) -> None:
    """A bucket last changed by a clock ahead of the server's (NTP stepping the server back, a
    restored snapshot, a backend that wrote it with an older clock offset) refills nothing for
    the step and loses nothing: its caller is neither refused until the clock catches up nor
    driven to the floor."""
    ahead = "insert into monitoring.rate_limit_buckets values (%s, 3, now() + interval '1 year')"
    with psycopg.connect(monitoring.conninfo, autocommit=True) as conn:
        conn.execute(ahead, ["stepped-take"])
        conn.execute(ahead, ["stepped-settle"])
        took = [conn.execute("select monitoring.take_token('stepped-take', 100, 0.001)")
                .fetchone() for _ in range(4)]  # fmt: skip
        settled = conn.execute(
            "select tokens from monitoring.settle_tokens('{stepped-settle}', '{2}', '{100}', "
            "'{0.001}')"
        ).fetchone()
        stamped = conn.execute(
            "select bool_and(updated_at <= clock_timestamp()) from monitoring.rate_limit_buckets "
            "where key like 'stepped-%'"
        ).fetchone()
    assert [row[0] if row else None for row in took][:3] == [0.0, 0.0, 0.0]  # its 3 tokens
    assert took[3] is not None and 900 < took[3][0] < 1100  # then one refill's wait, not a year
    assert settled == (1.0,)
    assert stamped == (True,)
