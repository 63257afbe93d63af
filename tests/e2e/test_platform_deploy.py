"""The program, run by the offline harness, deploys the local stack to a fresh target."""

from __future__ import annotations

from tests.conftest import Services
from tests.e2e.conftest import local_config
from tests.e2e.harness import applied_of, deploy


def test_the_local_stack_deploys_to_a_fresh_target(fresh: Services) -> None:
    mocks = deploy(local_config(fresh))
    migrations = sorted(a.id for a in applied_of(mocks, "migrations:Migration"))
    assert migrations == [
        "bidding:20260128000000",
        "monitoring:20260101000000",
        "monitoring:20260102000000",
    ]
    with fresh.connect() as conn:
        job = conn.execute(
            "select schedule, active from cron.job where jobname = 'supastack-evaluate-alerts'"
        ).fetchone()
        rls = conn.execute(
            "select bool_and(relrowsecurity) from pg_class c join pg_namespace n "
            "on n.oid = c.relnamespace where n.nspname = 'monitoring' and c.relkind = 'r'"
        ).fetchone()
        evaluated = conn.execute("select monitoring.evaluate_alerts()").fetchone()
    assert job == ("* * * * *", True)
    assert rls == (True,)
    assert evaluated == (len(applied_of(mocks, "alerts:AlertRule")),)  # every rule ran
