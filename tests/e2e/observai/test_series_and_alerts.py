"""Rollups and series against the raw points, anomaly detection on a series with a known
anomaly, and an organization's alerts: firing and notifying once, validation, isolation."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx

from tests.conftest import js_time
from tests.e2e.observai.deployed import (
    HOOK,
    ISO_UTC,
    Hub,
    error_of,
    hour_ago_aligned,
    utc_now,
)

# -- rollups, series, anomalies -------------------------------------------------------------------


def test_rollups_and_series_agree_with_the_raw_points(hub: Hub, fresh_budgets: None) -> None:
    # two hours of points, sent after the hub rolled those hours up (a backfill)
    hub.rows("select * from observai.aggregate()")
    start = hour_ago_aligned()
    points = [{"name": "cpu", "value": float(i % 17),
               "timestamp": (start + dt.timedelta(seconds=10 * i)).isoformat()}
              for i in range(720)]  # fmt: skip
    assert hub.ingest(hub.keyed(hub.a.key), {"metrics": points}).status_code == 202
    hub.rows("select * from observai.aggregate()")
    raw = dict(hub.rows(
        "select date_trunc('hour', ts), avg(value) from observai.metrics "
        "where organization_id = %s and name = 'cpu' group by 1", hub.a.id,
    ))  # fmt: skip
    hourly = dict(hub.rows(
        "select bucket, sum / count from observai.rollups where organization_id = %s "
        "and name = 'cpu' and resolution = '1h'", hub.a.id,
    ))  # fmt: skip
    assert hourly.keys() == raw.keys() and len(hourly) == 2
    assert all(abs(hourly[h] - raw[h]) < 1e-9 for h in raw)
    end = start + dt.timedelta(hours=2)
    for step in (10, 60, 300, 3600):
        answer = hub.get(
            "metrics",
            hub.keyed(hub.a.read_key),
            name="cpu",
            step=str(step),
            aggregation="max",
            **{"from": start.isoformat(), "to": end.isoformat()},
        )
        assert answer.status_code == 200, answer.text
        expected = hub.rows(
            "select date_bin(make_interval(secs => %s), ts, timestamptz 'epoch'), max(value) "
            "from observai.metrics where organization_id = %s and name = 'cpu' group by 1 "
            "order by 1", step, hub.a.id,
        )  # fmt: skip
        got = [(dt.datetime.fromisoformat(b), v) for b, v in answer.json()["points"]]
        assert got == [(b, float(v)) for b, v in expected]
        # the times as JavaScript writes them, whatever the session's date style
        assert all(ISO_UTC.fullmatch(b) for b, _ in answer.json()["points"])
    with hub.services.connect() as conn:
        conn.execute("set datestyle = 'SQL, DMY'")
        conn.execute("set extra_float_digits = 0")
        text = conn.execute(
            "select observai.series_json(%s, 'cpu', %s, %s, 3600, 'avg')", [hub.a.id, start, end]
        ).fetchone()
    assert text is not None and json.loads(str(text[0])) == [
        [js_time(b), v] for b, v in sorted(hourly.items())
    ]


def test_points_after_the_last_rollup_are_read_raw(hub: Hub, fresh_budgets: None) -> None:
    hub.rows("select * from observai.aggregate()")
    body = {"metrics": [{"name": "fresh.gauge", "value": 7.0}]}
    assert hub.ingest(hub.keyed(hub.a.key), body).status_code == 202
    answer = hub.get("metrics", hub.keyed(hub.a.read_key), name="fresh.gauge", step="300",
                     aggregation="count")  # fmt: skip
    assert [v for _, v in answer.json()["points"]] == [1.0]


def test_an_anomaly_in_a_generated_series_is_found_once(hub: Hub) -> None:
    day_ago = (utc_now() - dt.timedelta(hours=26)).replace(minute=0, second=0, microsecond=0)
    spike = day_ago + dt.timedelta(hours=25)
    with hub.services.connect() as conn:
        conn.execute(
            "insert into observai.rollups select %s, 'latency', '5m', b, 1, "
            "  case when b = %s then 500 else 100 + (extract(minute from b)::int %% 3) end, "
            "  0, 0 "
            "from generate_series(%s, %s, interval '5 minutes') b",
            [hub.a.id, spike, day_ago, spike + dt.timedelta(minutes=30)],
        )
    since = spike - dt.timedelta(hours=1)
    assert hub.scalar("select observai.detect_anomalies(%s)", since) == 1
    assert hub.scalar("select observai.detect_anomalies(%s)", since) == 0  # recorded once
    found = hub.rows("select bucket, value, round(expected) from observai.anomalies "
                     "where organization_id = %s and name = 'latency'", hub.a.id)  # fmt: skip
    assert found == [(spike, 500.0, 101)]


# -- organization alerts -------------------------------------------------------------------------


def test_an_organizations_alert_fires_and_notifies_once(hub: Hub, fresh_budgets: None) -> None:
    owner = hub.signed_in(hub.a.owner)
    definition = {
        "name": "errors-high",
        "metric": "app.errors",
        "condition": "above",
        "threshold": 5,
        "windowSeconds": 60,
        "channel": HOOK,
        "severity": "critical",
    }
    created = httpx.post(f"{hub.url}/alerts", params={"organization": "acme"}, json=definition,
                         headers=owner, timeout=30)  # fmt: skip
    assert created.status_code == 201, created.text
    alert = created.json()
    viewer_try = httpx.post(f"{hub.url}/alerts", params={"organization": "acme"},
                            json={**definition, "name": "v"}, headers=hub.signed_in(hub.a.viewer),
                            timeout=30)  # fmt: skip
    assert error_of(viewer_try) == (403, "FORBIDDEN")
    check = f"{hub.url}/cron-check-alerts"
    hub.ingest(hub.keyed(hub.a.key), {"metrics": [{"name": "app.errors", "value": 10}]})
    assert httpx.post(check, headers=hub.job(), json={}, timeout=30).json() == {
        "fired": 1, "resolved": 0}  # fmt: skip
    assert httpx.post(check, headers=hub.job(), json={}, timeout=30).json() == {
        "fired": 0, "resolved": 0}  # fmt: skip
    hub.ingest(hub.keyed(hub.a.key), {"metrics": [{"name": "app.errors", "value": 0}] * 3})
    assert httpx.post(check, headers=hub.job(), json={}, timeout=30).json() == {
        "fired": 0, "resolved": 1}  # fmt: skip
    sent = [r.json() for r in hub.hook.wait_for(2)]
    assert [(s["rule"], s["kind"]) for s in sent] == [  # type: ignore[index]
        ("observai/acme/errors-high", "fired"),
        ("observai/acme/errors-high", "resolved"),
    ]
    assert len(hub.hook.requests) == 2
    assert hub.rows(
        "select state, notified from observai.alert_events where alert_id = %s order by at",
        alert["id"],
    ) == [("firing", [HOOK]), ("resolved", [HOOK])]


def _alert_above(hub: Hub, name: str, metric: str, threshold: float) -> str:
    """Organization a's alert on ``metric`` above ``threshold`` in a minute, to the hook: its id."""
    return str(hub.scalar(
        "insert into observai.alert_definitions (organization_id, name, metric, condition, "
        "threshold, window_length, channel) values (%s, %s, %s, 'above', %s, '1 minute', %s) "
        "returning id", hub.a.id, name, metric, threshold, HOOK,
    ))  # fmt: skip


def test_two_alert_checks_at_once_notify_once(hub: Hub) -> None:
    alert = _alert_above(hub, "race", "race.metric", 0)
    hub.rows("insert into observai.metrics (organization_id, name, value, ts) "
             "values (%s, 'race.metric', 1, now()) returning 1", hub.a.id)  # fmt: skip
    before = len(hub.hook.requests)
    with hub.services.connect() as first, hub.services.connect() as second:
        first.execute("begin")
        assert first.execute("select fired from observai.check_alerts()").fetchone() == (1,)
        # the second pass skips the definition the first holds, rather than firing it again
        assert second.execute("select fired from observai.check_alerts()").fetchone() == (0,)
        first.execute("commit")
    assert hub.scalar("select count(*) from observai.alert_events where alert_id = %s",
                      alert) == 1  # fmt: skip
    assert len(hub.hook.requests) == before + 1


def test_alerts_of_another_organization_are_not_found(hub: Hub) -> None:
    alert = _alert_above(hub, "private", "m", 1)
    stranger = hub.signed_in(hub.b.owner)
    for target in (alert, str(uuid.uuid4())):
        for method in ("PATCH", "DELETE"):
            answer = httpx.request(
                method,
                f"{hub.url}/alerts",
                headers=stranger,
                timeout=30,
                params={"organization": "globex", "id": target},
                json={"threshold": 1} if method == "PATCH" else None,
            )
            assert error_of(answer) == (404, "NOT_FOUND")
    listed = hub.get("alerts", hub.keyed(hub.b.read_key)).json()["alerts"]
    assert alert not in [a["id"] for a in listed]
    assert hub.scalar("select count(*) from observai.alert_definitions where id = %s", alert) == 1


def test_alert_definitions_are_validated_naming_the_field(hub: Hub) -> None:
    owner = hub.signed_in(hub.a.owner)
    base: dict[str, object] = {"name": "v", "metric": "m", "condition": "above", "threshold": 1,
            "windowSeconds": 60, "channel": HOOK}  # fmt: skip
    changes: list[tuple[dict[str, object], str]] = [({"condition": "sideways"}, "condition:"),
                         ({"windowSeconds": 5}, "windowSeconds:"),
                         ({"channel": "https://evil.example"}, "channel:"),
                         ({"threshold": "high"}, "threshold:"),
                         ({"owner": "me"}, "owner: unknown field")]  # fmt: skip
    for change, says in changes:
        answer = httpx.post(f"{hub.url}/alerts", params={"organization": "acme"},
                            json={**base, **change}, headers=owner, timeout=30)  # fmt: skip
        assert error_of(answer) == (422, "INVALID_INPUT")
        assert says in answer.json()["error"]["message"]


def test_a_nul_a_lone_surrogate_or_an_over_long_name_is_a_clear_4xx(hub: Hub) -> None:
    """Text Postgres cannot hold (a NUL character; it was a 500) and text past its rule are the
    caller's to fix: 422, nothing stored, the text not echoed; a lone surrogate is never a
    5xx."""
    owner = hub.signed_in(hub.a.owner)
    base: dict[str, object] = {"metric": "m", "condition": "above", "threshold": 1,
                               "windowSeconds": 60, "channel": HOOK}  # fmt: skip
    count = "select count(*) from observai.alert_definitions"
    before = hub.scalar(count)
    for name in ("nul\u0000name", "x" * 100_000):
        answer = httpx.post(f"{hub.url}/alerts", params={"organization": "acme"},
                            json={**base, "name": name}, headers=owner, timeout=30)  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert "\u0000" not in answer.text and "x" * 100 not in answer.text
    assert hub.scalar(count) == before
    body = (
        b'{"name": "a\\ud800b", "metric": "m", "condition": "above", "threshold": 1, '
        b'"windowSeconds": 60, "channel": "' + HOOK.encode() + b'"}'
    )  # a lone surrogate
    as_json = {**owner, "content-type": "application/json"}
    lone = httpx.post(f"{hub.url}/alerts", params={"organization": "acme"}, content=body,
                      headers=as_json, timeout=30)  # fmt: skip
    assert lone.status_code < 500, lone.text
