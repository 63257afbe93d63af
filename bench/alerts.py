"""One `monitoring.evaluate_alerts()` pass with 100 rules over 1 million invocation rows.

On a throwaway local cluster with the monitoring app applied: 1,000,000 invocations of 100
functions spread over the last 24 hours (2 % errors), then 100 rules (half error rate over
5 minutes, half p95 latency over 15 minutes, one per function). Prints the time of three
evaluation passes (target: under 1 s each) and how the metric query is executed.

    .venv/bin/python -m bench.alerts
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from supastack.local import system
from supastack.local.environment import LocalEnvironment
from tests.core.conftest import apply_monitoring

ROWS = 1_000_000
RULES = 100


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="supastack-bench-") as tmp:
        Path(tmp).chmod(0o755)
        env = LocalEnvironment(Path(tmp) / "state", system.free_port(), system.free_port())
        env.up(report=lambda _: None)
        try:
            dsn = env.cluster(env.credentials()).dsn()
            apply_monitoring(dsn)
            with psycopg.connect(dsn, autocommit=True) as conn:
                started = time.perf_counter()
                conn.execute(
                    "insert into monitoring.function_invocations "
                    "(function_name, status, duration_ms, request_id, invoked_at) "
                    "select 'fn-' || (i %% %s), case when i %% 50 = 0 then 500 else 200 end, "
                    "random() * 400, i::text, now() - (random() * interval '24 hours') "
                    "from generate_series(1, %s) as i",
                    [RULES, ROWS],
                )
                conn.execute("analyze monitoring.function_invocations")
                print(f"inserted {ROWS:,} invocations in {time.perf_counter() - started:.1f} s")
                for i in range(RULES):
                    helper, window = (
                        ("function_error_rate", "5min") if i % 2 else ("function_p95_ms", "15min")
                    )
                    conn.execute(
                        "insert into monitoring.alert_rules (name, severity, metric_sql, "
                        "comparison, threshold, window_length, channels) "
                        "values (%s, 'warning', %s, '>', %s, %s, '{}')",
                        [
                            f"rule-{i}",
                            f"SELECT monitoring.{helper}('fn-{i}', $1)",
                            0.05 if i % 2 else 500,
                            window,
                        ],
                    )
                timings = []
                for _ in range(3):
                    started = time.perf_counter()
                    evaluated = conn.execute("select monitoring.evaluate_alerts()").fetchone()
                    timings.append(time.perf_counter() - started)
                plan = conn.execute(
                    "explain select percentile_cont(0.95) within group (order by duration_ms) "
                    "from monitoring.function_invocations "
                    "where function_name = 'fn-1' and invoked_at > now() - interval '15 min'"
                ).fetchall()
            print(
                f"evaluate_alerts() over {RULES} rules ({evaluated[0] if evaluated else 0} "
                f"evaluated): {', '.join(f'{t * 1000:.0f} ms' for t in timings)} "
                f"(median {statistics.median(timings) * 1000:.0f} ms; target < 1 s)"
            )
            print("a metric query's plan: " + " / ".join(row[0].strip() for row in plan[:3]))
        finally:
            env.down(report=lambda _: None)


if __name__ == "__main__":
    main()
