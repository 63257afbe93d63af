"""Alert rules against the real cluster: a rule fires when injected invocations cross its
threshold, notifies a local webhook once, repeats, resolves, and every step is an event."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from components.providers.operations.alerts import AlertChannelProvider, AlertRuleProvider
from supastack.database import vault
from supastack.database.postgres import connect
from supastack.errors import SupastackError
from supastack.flags import records as flag_records
from supastack.operations import alerts
from tests.conftest import Recorded, RecordingServer, Services, outs
from tests.core.conftest import apply_monitoring


@pytest.fixture
def monitored(services: Services) -> Iterator[str]:
    """The `postgres` database (Vault and net live there) with the monitoring app applied."""
    apply_monitoring(services.dsn())
    yield services.dsn()
    with services.connect() as conn:
        conn.execute("delete from monitoring.alert_rules where name like 'test-%'")
        conn.execute("delete from monitoring.alert_channels where name like 'test-%'")


@pytest.fixture
def webhook(monitored: str, http_endpoint: RecordingServer) -> str:
    """A webhook channel whose URL is in Vault."""
    vault.put_secret(monitored, "TEST_WEBHOOK_URL", f"{http_endpoint.url}/hook")
    AlertChannelProvider().create(
        {
            "conninfo": monitored,
            "name": "test-hook",
            "type": "webhook",
            "secret_name": "TEST_WEBHOOK_URL",
            "endpoint": None,
            "severities": ["critical", "warning"],
        }
    )
    return "test-hook"


def _json(request: Recorded) -> dict[str, Any]:
    body = request.json()
    assert isinstance(body, dict)
    return body


def _rule(conninfo: str, fn: str, **values: Any) -> dict[str, Any]:
    return {
        "conninfo": conninfo,
        "name": f"test-{fn}",
        "severity": "critical",
        "metric_sql": f"SELECT monitoring.function_error_rate('{fn}', $1)",
        "comparison": ">",
        "threshold": 0.05,
        "window_length": "5min",
        "for_duration": "0",
        "repeat_every": "1h",
        "channels": ["test-hook"],
        **values,
    }


def _invocations(conninfo: str, fn: str, status: int, count: int) -> None:
    with connect(conninfo) as conn:
        conn.execute(
            "insert into monitoring.function_invocations (function_name, status, duration_ms, "
            "request_id) select %s, %s, 10, gen_random_uuid()::text from generate_series(1, %s)",
            [fn, status, count],
        )


def _events(conninfo: str, rule: str) -> list[tuple[Any, ...]]:
    with connect(conninfo) as conn:
        return conn.execute(
            "select kind, round(value::numeric, 2)::float8, notified from monitoring.alert_events "
            "where rule = %s order by id",
            [rule],
        ).fetchall()


def test_a_rule_fires_once_repeats_and_resolves(
    monitored: str, webhook: str, http_endpoint: RecordingServer
) -> None:
    fn = f"fn-{uuid.uuid4().hex[:8]}"
    provider = AlertRuleProvider()
    props = _rule(monitored, fn)
    created = provider.create(props)
    _invocations(monitored, fn, 200, 90)
    alerts.evaluate(monitored)
    assert _events(monitored, props["name"]) == []  # 0 % errors: nothing happens

    _invocations(monitored, fn, 500, 10)  # 10 % errors > 5 %
    alerts.evaluate(monitored)
    alerts.evaluate(monitored)  # still firing, repeat_every 1h: no second notification
    sent = http_endpoint.wait_for(1)
    assert [r.path for r in sent] == ["/hook"]
    payload = _json(sent[0])
    assert (payload["rule"], payload["kind"], payload["severity"]) == (
        props["name"],
        "fired",
        "critical",
    )

    repeating = {**props, "repeat_every": "0"}
    provider.update(props["name"], outs(created), repeating)
    alerts.evaluate(monitored)
    with connect(monitored) as conn:
        conn.execute(
            "delete from monitoring.function_invocations where function_name = %s and status = 500",
            [fn],
        )
    alerts.evaluate(monitored)
    kinds = [_json(r)["kind"] for r in http_endpoint.wait_for(3)]
    assert kinds == ["fired", "repeated", "resolved"]
    assert _events(monitored, props["name"]) == [
        ("fired", 0.1, ["test-hook"]),
        ("repeated", 0.1, ["test-hook"]),
        ("resolved", 0.0, ["test-hook"]),
    ]


def test_a_for_duration_holds_the_rule_pending_first(
    monitored: str, webhook: str, http_endpoint: RecordingServer
) -> None:
    fn = f"fn-{uuid.uuid4().hex[:8]}"
    props = _rule(monitored, fn, for_duration="2min")
    AlertRuleProvider().create(props)
    _invocations(monitored, fn, 503, 5)
    alerts.evaluate(monitored)
    assert _events(monitored, props["name"]) == [("pending", 1.0, [])]
    with connect(monitored) as conn:  # two minutes pass
        conn.execute(
            "update monitoring.alert_rules set pending_since = now() - interval '2 min' "
            "where name = %s",
            [props["name"]],
        )
    alerts.evaluate(monitored)
    assert [e[0] for e in _events(monitored, props["name"])] == ["pending", "fired"]
    assert _json(http_endpoint.wait_for(1)[0])["kind"] == "fired"


def test_a_rule_whose_sql_does_not_run_is_refused_and_not_written(monitored: str) -> None:
    props = _rule(
        monitored, "x", name="test-broken", metric_sql="SELECT count(*) FROM no_such_table"
    )
    with pytest.raises(
        SupastackError,
        match=r"alert rule 'test-broken': its metric does not run: relation \"no_such_table\"",
    ):
        AlertRuleProvider().create(props)
    assert alerts.read_rule(monitored, "test-broken") is None


def test_preview_refuses_a_metric_that_cannot_run_but_waits_for_pending_tables(
    monitored: str,
) -> None:
    provider = AlertRuleProvider()
    broken = _rule(monitored, "x", name="test-typed", metric_sql="SELECT 'not a number'::int")
    failures = provider.check({}, broken).failures
    assert [f.property for f in failures] == ["metric_sql"]
    assert (
        "alert rule 'test-typed': its metric does not run: invalid input syntax"
        in failures[0].reason
    )
    pending = _rule(
        monitored, "x", name="test-later", metric_sql="SELECT count(*) FROM shop.orders"
    )
    assert provider.check({}, pending).failures == []  # a pending migration may create it
    assert provider.check({}, _rule(monitored, "x")).failures == []


def test_a_failing_metric_at_run_time_is_an_error_event_and_others_still_run(
    monitored: str, webhook: str, http_endpoint: RecordingServer
) -> None:
    fn = f"fn-{uuid.uuid4().hex[:8]}"
    with connect(monitored) as conn:
        conn.execute(
            "create table public.test_metric_source (n int); "
            "insert into public.test_metric_source values (1)"
        )
    source = "SELECT max(n) FROM public.test_metric_source"
    AlertRuleProvider().create(_rule(monitored, fn, name="test-a-vanishing", metric_sql=source))
    AlertRuleProvider().create(_rule(monitored, fn, threshold=-1))  # always breached
    with connect(monitored) as conn:
        conn.execute("drop table public.test_metric_source")  # the rule's table goes away
    alerts.evaluate(monitored)
    assert _events(monitored, "test-a-vanishing")[0][0] == "error"
    assert _events(monitored, f"test-{fn}")[0][0] == "fired"


def test_rule_drift_is_read_and_repaired(monitored: str, webhook: str) -> None:
    provider = AlertRuleProvider()
    props = _rule(monitored, "drift-fn")
    created = provider.create(props)
    assert outs(provider.read(props["name"], outs(created))) == outs(created)
    with connect(monitored) as conn:
        conn.execute(
            "update monitoring.alert_rules set threshold = 0.9 where name = %s", [props["name"]]
        )
    read = provider.read(props["name"], outs(created))
    assert (
        outs(read)["threshold"] == 0.9 and provider.diff(props["name"], outs(read), props).changes
    )
    provider.update(props["name"], outs(read), props)
    assert alerts.read_rule(monitored, props["name"]).threshold == 0.05  # type: ignore[union-attr]
    provider.delete(props["name"], props)
    assert provider.read(props["name"], props).id == ""


def test_pagerduty_and_slack_payloads(monitored: str, http_endpoint: RecordingServer) -> None:
    vault.put_secret(monitored, "TEST_PD_KEY", "routing-key-123")
    vault.put_secret(monitored, "TEST_SLACK_URL", f"{http_endpoint.url}/slack")
    for name, kind, secret, endpoint in (
        ("test-pd", "pagerduty", "TEST_PD_KEY", f"{http_endpoint.url}/pd"),
        ("test-slack", "slack", "TEST_SLACK_URL", None),
    ):
        AlertChannelProvider().create(
            {"conninfo": monitored, "name": name, "type": kind, "secret_name": secret,
             "endpoint": endpoint, "severities": ["critical"]}
        )  # fmt: skip
    AlertRuleProvider().create(
        _rule(monitored, "always", threshold=-1, channels=["test-pd", "test-slack"])
    )
    alerts.evaluate(monitored)
    by_path = {r.path: _json(r) for r in http_endpoint.wait_for(2)}
    assert by_path["/pd"]["routing_key"] == "routing-key-123"
    assert (
        by_path["/pd"]["event_action"] == "trigger"
        and by_path["/pd"]["dedup_key"] == "supastack:test-always"
    )
    assert by_path["/slack"]["text"].startswith("[CRITICAL] test-always fired")


def test_a_rolled_back_rollout_is_told_to_the_gate_rules_channels(
    monitored: str, webhook: str, http_endpoint: RecordingServer
) -> None:
    fn = f"fn-{uuid.uuid4().hex[:8]}"
    props = _rule(monitored, fn)
    AlertRuleProvider().create(props)
    _invocations(monitored, fn, 500, 10)
    summary = "[prod] rollout new_checkout: step 2/4, 25 %: gate fired; back to 5 %"
    with flag_records.exclusive(monitored, "new_checkout") as records:
        fired = records.gates([props["name"]], evaluate=True)
        assert [g.state for g in fired] == ["firing"]  # evaluated now, not in a minute
        assert records.notify(props["name"], summary) == ["test-hook"]
        assert records.notify("test-no-such-rule", summary) == []
    sent = [_json(r) for r in http_endpoint.wait_for(2)]
    assert [(p["kind"], p.get("summary")) for p in sent] == [
        ("fired", f"[CRITICAL] {props['name']} fired: 1.0000 > 0.05"),
        ("rollout_rolled_back", summary),
    ]
