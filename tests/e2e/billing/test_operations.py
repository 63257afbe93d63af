"""The operations functions (performance report, dashboard, costs and budget alert, traffic
migrations, the production validator) and the stack's smoke tests."""

from __future__ import annotations

import datetime as dt
import statistics
import uuid

import httpx
import pytest

from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as run_smoke
from tests.clock import EACH_DAY
from tests.conftest import wait_until
from tests.e2e.billing.deployed import (
    Stack,
    schedule_processor,
    subscription_event,
)


def _invocations(stack: Stack, function: str, durations: list[float], *, status: int = 200,
                 days_ago: int = 0, variant: str | None = None) -> None:  # fmt: skip
    """Invocation rows as the middleware writes them (marked, for _forget_invocations)."""
    stack.rows(
        "insert into monitoring.function_invocations (function_name, status, duration_ms, "
        "request_id, invoked_at, variant) select %s, %s, d, 'planted-' || gen_random_uuid(), "
        "now() - make_interval(days => %s), %s from unnest(%s::float8[]) d returning 1",
        function, status, days_ago, variant, durations,
    )  # fmt: skip


def _forget_invocations(stack: Stack) -> None:
    stack.rows("delete from monitoring.function_invocations where request_id like 'planted-%%' "
               "returning 1")  # fmt: skip
    stack.rows("delete from billing.cost_metrics returning 1")
    stack.rows("select monitoring.evaluate_alert_rules(array['billing-performance-targets', "
               "'billing-error-rate', 'billing-cost-overrun', "
               "'billing-migration-new-path'])")  # fmt: skip


def test_the_performance_report_and_dashboard_read_what_the_functions_recorded(
    stack: Stack,
) -> None:
    def error_rule() -> str:
        stack.rows("select monitoring.evaluate_alert_rules(array['billing-error-rate'])")
        return str(stack.scalar("select state from monitoring.alert_rules "
                                "where name = 'billing-error-rate'"))  # fmt: skip

    before = error_rule()  # the calls of the tests before (some failed on purpose) as they are
    # quote requests slower than the 950 ms target, a fifth of what the package's other tests
    # made (their invocation rows may still be on their way) and 30 more: the p95 misses it
    made = int(stack.scalar("select count(*) from monitoring.function_invocations where "
                            "function_name = 'quote-processor'"))  # fmt: skip
    slow = [1000.0 + n for n in range(made // 5 + 30)]
    _invocations(stack, "quote-processor", slow)
    _invocations(stack, "production-validator", [5.0] * 25, status=503)
    try:
        report = stack.as_service("performance-optimizer",
                               {"operation": "benchmark_all_functions", "hours": 1})  # fmt: skip
        by_function = {f["function"]: f for f in report["functions"]}
        recorded = [row[0] for row in stack.rows(
            "select duration_ms from monitoring.function_invocations where function_name = "
            "'quote-processor' and invoked_at > now() - interval '1 hour'")]  # fmt: skip
        quotes = by_function["quote-processor"]
        assert quotes["invocations"] == len(recorded)
        assert quotes["p95Ms"] == pytest.approx(statistics.quantiles(
            recorded, n=20, method="inclusive")[-1])  # fmt: skip
        assert (quotes["targetP95Ms"], quotes["meetsTarget"]) == (950, False)
        assert not report["passed"]
        assert by_function["production-validator"]["errorRate"] == 1.0
        stack.rows("select monitoring.evaluate_alert_rules(array['billing-performance-targets', "
                   "'billing-error-rate'])")  # fmt: skip
        states = dict(stack.rows("select name, state from monitoring.alert_rules "
                                 "where name in ('billing-performance-targets', "
                                 "'billing-error-rate')"))  # fmt: skip
        # the error rate fires at once; a missed p95 only after 10 minutes of missing it
        assert states == {"billing-error-rate": "firing", "billing-performance-targets": "pending"}
        dashboard = httpx.get(f"{stack.url}/monitoring-alerting", headers=stack.service(),
                              timeout=30).json()  # fmt: skip
        assert {a["name"]: a["state"] for a in dashboard["alerts"]}[
            "billing-error-rate"
        ] == "firing"
        assert {p["function_name"]: p["p95_ms"] for p in dashboard["performance"]}[
            "quote-processor"] == pytest.approx(quotes["p95Ms"])  # fmt: skip
        assert set(dashboard) >= {"webhooks", "security", "cost"}
    finally:
        _forget_invocations(stack)
    assert error_rule() == before  # the planted calls are gone, and so is what they caused


@EACH_DAY
def test_function_costs_are_counted_per_day_and_the_budget_alert_fires(
    stack: Stack, day: dt.date
) -> None:
    """On each day of the week and where a month or a year rolls over (the database's clock
    moved there): yesterday's calls are recorded for yesterday and count in yesterday's month
    (the previous one on a month's first day), today's count in this month before the nightly
    job records them, and the budget rule fires on this month's."""
    plan = stack.rows("select included_invocations, monthly_budget_usd from billing.cost_plan")
    with stack.services.clock.moved_to(day, stack.services.dsn()):
        _invocations(stack, "quote-processor", [10.0] * 40, days_ago=1)
        _invocations(stack, "webhook-handler", [10.0] * 7, days_ago=1)
        try:
            for _ in range(2):  # idempotent: the nightly job may run again
                stack.rows("select billing.record_costs(current_date - 1)")
            assert dict(stack.rows("select function_name, invocations from billing.cost_metrics "
                                   "where metric_date = current_date - 1 and function_name in "
                                   "('quote-processor', 'webhook-handler')")) == {
                "quote-processor": 40, "webhook-handler": 7}  # fmt: skip
            # no quota and a budget below one package: a month's first million costs $2
            stack.rows("update billing.cost_plan set included_invocations = 0, "
                       "monthly_budget_usd = 1 returning 1")  # fmt: skip
            month = "select month, invocations, cost_usd, projected_usd >= cost_usd from {}"
            yesterday = day - dt.timedelta(days=1)
            assert stack.rows(month.format("billing.monthly_cost(current_date - 1)")) == [
                (yesterday.replace(day=1), 47, 2, True)]  # fmt: skip
            _invocations(stack, "quote-processor", [10.0] * 3)  # today's, not yet recorded
            same_month = yesterday.month == day.month
            assert stack.rows(month.format("billing.monthly_cost()")) == [
                (day.replace(day=1), 50 if same_month else 3, 2, True)]  # fmt: skip
            stack.rows("select monitoring.evaluate_alert_rules(array['billing-cost-overrun'])")
            assert stack.scalar("select state from monitoring.alert_rules "
                                "where name = 'billing-cost-overrun'") == "firing"  # fmt: skip
        finally:
            stack.rows("update billing.cost_plan set included_invocations = %s, "
                       "monthly_budget_usd = %s returning 1", *plan[0])  # fmt: skip
            _forget_invocations(stack)
        assert stack.scalar("select state from monitoring.alert_rules "
                            "where name = 'billing-cost-overrun'") == "ok"  # fmt: skip


def test_a_halted_migration_sends_every_caller_down_the_old_path_within_seconds(
    stack: Stack,
) -> None:
    user = str(uuid.uuid4())
    event = subscription_event("customer.subscription.created", user=user)
    assert stack.deliver(event).status_code == 200
    stack.process()
    sub = event["data"]["object"]
    stack.stripe.subscriptions[sub["id"]] = sub
    url, signed_in = f"{stack.url}/subscription-status", stack.signed_in(user)
    served: list[str] = []

    def paths() -> dict[str, int]:
        status = stack.as_service("migration-controller", {"operation": "status"})
        return {p["variant"]: p["invocations"] for p in status["paths"]}

    before = paths()  # the calls of the tests before

    def source() -> str:
        served.append(str(httpx.get(url, headers=signed_in, timeout=30).json()["source"]))
        return served[-1]

    assert source() == "cache"  # the flag is at 100 % here
    status = stack.as_service("migration-controller", {"operation": "status"})
    assert (status["flag"]["percentage"], status["halted"]) == (100, None)
    halted = stack.as_service("migration-controller",
                           {"operation": "execute_rollback", "reason": "p95 doubled"})  # fmt: skip
    assert halted["halted"]["reason"] == "p95 doubled"
    assert stack.scalar("select state from monitoring.alert_rules "
                        "where name = 'billing-traffic-rollback'") == "firing"  # fmt: skip
    # every instance reads the halt within its 5 s cache: then every request asks Stripe
    # (probed twice a second: the function allows a user 60 requests a minute)
    wait_until(lambda: source() == "stripe", timeout=15, every=0.5)
    reads = len(stack.stripe.reads)
    assert [source(), source()] == ["stripe", "stripe"] and len(stack.stripe.reads) == reads + 2
    stack.as_service("migration-controller", {"operation": "resume"})
    wait_until(lambda: source() == "cache", timeout=15, every=0.5)
    # each call recorded with the path that served it (rows are written just after answering)
    expected = {"new": before.get("new", 0) + served.count("cache"),
                "old": before.get("old", 0) + served.count("stripe")}  # fmt: skip
    wait_until(lambda: paths() == expected)
    stack.rows("select monitoring.evaluate_alert_rules(array['billing-traffic-rollback'])")
    refused = httpx.post(f"{stack.url}/migration-controller", headers=stack.service(),
                         json={"operation": "initialize_migration", "target_traffic_percent": 5},
                         timeout=30)  # fmt: skip
    assert refused.status_code == 409
    assert "supastack rollout" in refused.json()["error"]["message"]
    anon = {"Authorization": f"Bearer {stack.services.credentials.anon_key}"}
    assert httpx.post(f"{stack.url}/migration-controller", json={"operation": "status"},
                      headers=anon, timeout=30).status_code == 401  # fmt: skip


def test_the_new_path_is_judged_by_its_own_calls(stack: Stack) -> None:
    # at 5 % of traffic: 25 slow calls on the new path among 475 quick ones on the old
    _invocations(stack, "subscription-status", [900.0] * 25, variant="new")
    _invocations(stack, "subscription-status", [20.0] * 475, variant="old")
    try:
        status = stack.as_service("migration-controller", {"operation": "status"})
        paths = {p["variant"]: p for p in status["paths"]}
        assert (paths["new"]["meets_target"], paths["old"]["meets_target"]) == (False, True)
        stack.rows("select monitoring.evaluate_alert_rules(array['billing-migration-new-path'])")
        assert stack.scalar("select state from monitoring.alert_rules "
                            "where name = 'billing-migration-new-path'") == "firing"  # fmt: skip
        # the function as a whole meets its p95 (the slow calls are 5 %): only the gate sees it
        assert stack.scalar("select meets_target from billing.performance_summary('10 minutes') "
                            "where function_name = 'subscription-status'")  # fmt: skip
    finally:
        _forget_invocations(stack)


def test_the_production_validator_names_what_fails(stack: Stack) -> None:
    quick = stack.as_service("production-validator", {"validation_type": "quick"})
    assert quick["passed"], quick
    _invocations(stack, "performance-optimizer", [5.0] * 3, status=500)
    try:
        comprehensive = stack.as_service("production-validator",
                                      {"validation_type": "comprehensive"})  # fmt: skip
    finally:
        _forget_invocations(stack)
    checks = {c["check"]: c for c in comprehensive["checks"]}
    assert set(checks) == {c["check"] for c in quick["checks"]} | {
        "the security scan finds nothing", "prices are on sale to quote",
        "the scheduled jobs are active and none failed in a day",
        "every function meets its p95 and error targets over a day"}  # fmt: skip
    assert checks["the security scan finds nothing"]["passed"]
    assert checks["prices are on sale to quote"]["passed"]
    targets = checks["every function meets its p95 and error targets over a day"]
    assert not targets["passed"] and "performance-optimizer" in targets["detail"]["missed"]
    assert not comprehensive["passed"]
    stack.rows("insert into billing.traffic_halts (flag, reason) "
               "values ('billing_subscription_cache', 'test') returning 1")  # fmt: skip
    try:
        halted = stack.as_service("production-validator", {"validation_type": "quick"})
    finally:
        stack.rows("delete from billing.traffic_halts returning 1")
    failed = [c for c in halted["checks"] if not c["passed"]]
    assert not halted["passed"]
    assert failed == [{"check": "no traffic migration is halted", "passed": False,
                       "detail": {"halted": ["billing_subscription_cache"]}}]  # fmt: skip
    bad = httpx.post(f"{stack.url}/production-validator", json={"validation_type": "all"},
                     headers=stack.service(), timeout=30)  # fmt: skip
    assert bad.status_code == 422


def test_the_stack_smoke_tests_pass(stack: Stack) -> None:
    schedule_processor(stack, active=True)
    try:
        # the alert rules as of now (other tests made some fire, then cleared their causes)
        stack.rows("select monitoring.evaluate_alert_rules(array_agg(name)) from "
                   "monitoring.alert_rules where name like 'billing-%%'")  # fmt: skip
        results = run_smoke(StackOutputs.model_validate(stack.deployment.outputs))
    finally:
        schedule_processor(stack, active=False)  # the package's other tests run it themselves
    assert [f"{r.name}: {r.detail}" for r in results if not r.ok] == []
