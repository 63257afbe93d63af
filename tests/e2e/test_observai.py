"""The ObservAI hub, deployed by the program (offline harness) to a fresh local target with a
Redis and a webhook alert channel: API keys, ingest (validation, batch and rate limits by
tier), tenant isolation through every function and table, rollups and series against the raw
points, anomaly detection on a series with a known anomaly, an organization's alert firing and
notifying once, retention and the 90-day archive, the Prometheus export, the cache's hit, miss
and Redis-down paths, and the stack's smoke tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from applier.engine import deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as run_smoke
from supastack.local.environment import LocalEnvironment
from tests.conftest import RecordingServer, js_time, start_services, wait_until
from tests.e2e.conftest import As, DeployedApp, local_config

DENIED = "42501"
HOOK = "observai-hook"

#: A time as JavaScript's toISOString writes it, in UTC.
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@dataclass
class Org:
    id: str
    slug: str
    owner: str
    viewer: str
    key: str = ""
    read_key: str = ""
    outsider: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Hub(DeployedApp):
    env: LocalEnvironment
    hook: RecordingServer
    a: Org
    b: Org

    def keyed(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.services.credentials.anon_key}", "x-api-key": key}

    def ingest(self, headers: dict[str, str], body: object, **params: str) -> httpx.Response:
        return httpx.post(f"{self.url}/ingest", json=body, headers=headers, params=params,
                          timeout=30)  # fmt: skip

    def get(self, fn: str, headers: dict[str, str], **params: str) -> httpx.Response:
        return httpx.get(f"{self.url}/{fn}", headers=headers, params=params, timeout=30)


def _org(hub_rows: Any, slug: str, tier: str) -> Org:
    owner, viewer = str(uuid.uuid4()), str(uuid.uuid4())
    org_id = hub_rows(
        "insert into observai.organizations (name, slug, tier) values (%s, %s, %s) returning id",
        slug.title(), slug, tier,
    )[0][0]  # fmt: skip
    hub_rows(
        "insert into observai.members values (%s, %s, 'owner'), (%s, %s, 'viewer') returning 1",
        org_id, owner, org_id, viewer,
    )  # fmt: skip
    org = Org(str(org_id), slug, owner, viewer)
    org.key = hub_rows(
        "select api_key from observai.create_api_key(%s, 'agent', '{ingest,read}')", org_id
    )[0][0]
    org.read_key = hub_rows(
        "select api_key from observai.create_api_key(%s, 'grafana', '{read}')", org_id
    )[0][0]
    return org


@pytest.fixture(scope="module")
def hub(state_root: Path) -> Iterator[Hub]:
    services = start_services(state_root / "e2e-observai", redis=True)
    hook = RecordingServer()
    config = local_config(
        services, apps=["observai"],
        alertChannels={HOOK: {"type": "webhook", "secret": "OBSERVAI_HOOK_URL",
                              "severities": ["critical", "warning"]}},
        secretValues={"OBSERVAI_HOOK_URL": f"{hook.url}/hook"},
    )  # fmt: skip
    deployment = deploy(config)

    def rows(query: str, *params: object) -> list[tuple[Any, ...]]:
        with services.connect() as conn:
            return conn.execute(query.encode(), params or None).fetchall()

    yield Hub(services, deployment, services.env, hook, _org(rows, "acme", "pro"),
              _org(rows, "globex", "free"))  # fmt: skip
    hook.close()
    services.env.down(report=lambda _: None)


@pytest.fixture
def fresh_budgets(hub: Hub) -> None:
    """Every organization's ingest budget full again (tests share the module's deployment)."""
    hub.rows("delete from monitoring.rate_limit_buckets where key like 'observai-ingest:%%' "
             "returning 1")  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# -- API keys ----------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_only_its_digest_is_stored(hub: Hub) -> None:
    prefix, digest, scopes = hub.rows(
        "select prefix, key_digest, scopes from observai.api_keys where prefix = %s",
        hub.a.key[:12],
    )[0]  # fmt: skip
    assert (prefix, bytes(digest), scopes) == (
        hub.a.key[:12],
        hashlib.sha256(hub.a.key.encode()).digest(),
        ["ingest", "read"],
    )
    dump = json.dumps(hub.rows("select to_jsonb(k) from observai.api_keys k"), default=str)
    assert hub.a.key not in dump and hub.a.key[12:] not in dump
    assert hub.scalar(
        "select count(*) from observai.audit_log where organization_id = %s "
        "and action = 'api_key.created'", hub.a.id,
    ) == 2  # fmt: skip


def test_an_owner_creates_and_revokes_keys_a_viewer_cannot(hub: Hub) -> None:
    owner, viewer = (
        As(hub.services, "authenticated", hub.a.owner),
        As(hub.services, "authenticated", hub.a.viewer),
    )
    created = owner.run("select id, api_key from observai.create_api_key(%s, 'tmp', '{read}')",
                        [hub.a.id])  # fmt: skip
    assert isinstance(created, list) and created[0][1].startswith("oai_")
    assert viewer.outcome(
        "select * from observai.create_api_key(%s, 'x', '{read}')", [hub.a.id]
    ) == ("OA404", "no such organization")
    # an owner of another organization is told the same as for one that does not exist
    stranger = As(hub.services, "authenticated", hub.b.owner)
    assert stranger.outcome("select observai.revoke_api_key(%s)", [str(uuid.uuid4())]) == (
        "OA404", "no such API key")  # fmt: skip
    key_id = hub.scalar("select id from observai.api_keys where prefix = %s", hub.a.read_key[:12])
    assert stranger.outcome("select observai.revoke_api_key(%s)", [key_id]) == (
        "OA404", "no such API key")  # fmt: skip
    assert owner.run("select * from observai.api_keys") == DENIED  # digests: no API role reads
    # nor how many keys there are, across organizations, from the statistics
    assert owner.run("select n_live_tup from pg_stat_user_tables where relname = 'api_keys'") \
        == DENIED  # fmt: skip
    assert owner.run("select pg_stat_get_live_tuples('observai.api_keys'::regclass)") == DENIED


def test_ten_revocations_of_one_key_at_once_revoke_it_once(hub: Hub) -> None:
    """Retries of one revocation sent together, each committed as the owner: one revokes (and
    is audited once), the others are told what a later retry is told, never a server error."""
    key_id, prefix = hub.rows(
        "select id, prefix from observai.create_api_key(%s, 'twice', '{read}')", hub.a.id
    )[0]
    claims = json.dumps({"role": "authenticated", "sub": hub.a.owner})
    barrier = threading.Barrier(10)

    def revoke() -> tuple[str, str] | None:
        with hub.services.connect() as conn:
            barrier.wait()  # released together
            try:
                with conn.transaction():  # committed, as the function's own call would be
                    conn.execute("set local role authenticated")
                    conn.execute("select set_config('request.jwt.claims', %s, true)", [claims])
                    conn.execute("select observai.revoke_api_key(%s)", [key_id])
            except psycopg.Error as error:
                return str(error.sqlstate), str(error.diag.message_primary)
        return None

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: revoke(), range(10)))
    assert sorted(answers, key=str) == [("OA404", "no such API key")] * 9 + [None]
    audited = "select count(*) from observai.audit_log where action = 'api_key.revoked' and "
    assert hub.scalar(audited + "target = %s", prefix) == 1
    assert hub.scalar("select revoked_at is not null from observai.api_keys where id = %s", key_id)


def test_a_token_without_a_subject_is_not_the_service(hub: Hub) -> None:
    """An `authenticated` token whose claims carry no `sub` is refused by the key functions
    (it was taken for the service: a key for any organization could be made with it); the
    service is service_role."""
    count = "select count(*) from observai.api_keys where organization_id = %s"
    before = hub.scalar(count, hub.b.id)
    nobody = As(hub.services, "authenticated")  # role authenticated, no sub
    refused = ("OA401", "a signed-in user (a token with a subject) or the service")
    assert nobody.outcome("select * from observai.create_api_key(%s, 'x', '{read}')",
                          [hub.b.id]) == refused  # fmt: skip
    key_id = hub.scalar("select id from observai.api_keys where prefix = %s", hub.b.key[:12])
    assert nobody.outcome("select observai.revoke_api_key(%s)", [key_id]) == refused
    assert (
        As(hub.services, "anon").run(  # anon reaches nothing of the schema
            "select * from observai.create_api_key(%s, 'x', '{read}')", [hub.b.id]
        )
        == "42501"
    )
    assert hub.scalar(count, hub.b.id) == before
    assert hub.scalar("select revoked_at is null from observai.api_keys where id = %s", key_id)
    service = As(hub.services, "service_role")
    made = service.run("select prefix from observai.create_api_key(%s, 'svc', '{read}')",
                       [hub.b.id])  # fmt: skip
    assert isinstance(made, list) and made[0][0].startswith("oai_")  # (rolled back by As)


def test_one_tenants_traffic_never_spends_anothers_limit(hub: Hub) -> None:
    """The limits count who the caller is (an API key by its digest), never the address the
    caller writes: a key claiming an address that another tenant exhausted is not throttled,
    and without the header two tenants no longer share one bucket."""
    burst, calm = (
        hub.scalar("select api_key from observai.create_api_key(%s, 'burst', '{read}')", org.id)
        for org in (hub.a, hub.b)
    )
    claimed = {"X-Forwarded-For": "203.0.113.9"}
    sent = 0  # until A's key is refused (120 a minute and a refill: bounded, not timed)
    while hub.get("metrics-export", {**hub.keyed(burst), **claimed}).status_code != 429:
        sent += 1
        assert sent < 400, "the limit never refused tenant A"
    assert sent >= 120
    assert hub.get("metrics-export", {**hub.keyed(calm), **claimed}).status_code == 200
    assert hub.get("metrics-export", hub.keyed(calm)).status_code == 200


# -- ingest ------------------------------------------------------------------------------------


def test_ingest_stores_a_batch_for_the_keys_organization(hub: Hub, fresh_budgets: None) -> None:
    points = [{"name": "ingest.ok", "value": i, "tags": {"host": f"h{i}"}} for i in range(50)]
    response = hub.ingest(hub.keyed(hub.a.key), {"metrics": points})
    assert (response.status_code, response.json()) == (202, {"accepted": 50})
    assert hub.rows(
        "select organization_id::text, count(*), sum(value) from observai.metrics "
        "where name = 'ingest.ok' group by 1"
    ) == [(hub.a.id, 50, sum(range(50)))]
    assert hub.scalar(
        "select last_used_at > now() - interval '1 minute' from observai.api_keys "
        "where prefix = %s", hub.a.key[:12],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"metrics": []}, 422, "metrics: a non-empty array is required"),
        ({"metrics": [{"name": "a", "value": 1}, {"name": "b", "value": "1"}]}, 422,
         "metrics[1].value: a finite number is required"),
        ({"metrics": [{"name": "9lives", "value": 1}]}, 422, "metrics[0].name:"),
        ({"metrics": [{"name": "a", "value": 1, "tags": {"k": 1}}]}, 422, "metrics[0].tags.k:"),
        ({"metrics": [{"name": "a", "value": 1, "timestamp": "2999-01-01T00:00:00Z"}]}, 422,
         "metrics[0].timestamp: within the last 90 days"),
        ({"metrics": [{"name": "a", "value": 1, "unit": "ms"}]}, 422,
         "metrics[0].unit: unknown field"),
        ({"metrics": [{"name": "a", "value": 1}] * 101}, 413,
         "at most 100 points per request on the free tier"),
    ],
)  # fmt: skip
def test_ingest_refuses_bad_batches_whole(
    hub: Hub, fresh_budgets: None, body: dict[str, Any], status: int, says: str
) -> None:
    before = hub.scalar("select count(*) from observai.metrics")
    response = hub.ingest(hub.keyed(hub.b.key), body)
    assert response.status_code == status
    assert says in response.json()["error"]["message"]
    assert hub.scalar("select count(*) from observai.metrics") == before


def test_ingest_refuses_callers_without_the_right(hub: Hub, fresh_budgets: None) -> None:
    body = {"metrics": [{"name": "x", "value": 1}]}
    unknown = "oai_" + "0" * 40
    assert _error(hub.ingest(hub.keyed(unknown), body)) == (401, "UNAUTHORIZED")
    assert _error(hub.ingest(hub.keyed("sk_live_guess"), body)) == (401, "UNAUTHORIZED")
    assert _error(hub.ingest(hub.keyed(hub.a.read_key), body)) == (403, "FORBIDDEN")
    assert _error(hub.ingest(hub.signed_in(hub.a.viewer), body, organization="acme")) == (
        403, "FORBIDDEN")  # fmt: skip
    assert _error(hub.ingest(hub.signed_in(hub.a.owner), body)) == (422, "INVALID_INPUT")
    ok = hub.ingest(hub.signed_in(hub.a.owner), body, organization="acme")
    assert ok.status_code == 202
    too_big = httpx.post(f"{hub.url}/ingest", content=b"{" + b" " * 2_200_000 + b"}",
                         headers=hub.keyed(hub.a.key), timeout=30)  # fmt: skip
    assert _error(too_big) == (413, "PAYLOAD_TOO_LARGE")


def test_a_revoked_key_is_refused_at_once(hub: Hub, fresh_budgets: None) -> None:
    key = hub.scalar("select api_key from observai.create_api_key(%s, 'old', '{ingest}')",
                     hub.a.id)  # fmt: skip
    body = {"metrics": [{"name": "x", "value": 1}]}
    assert hub.ingest(hub.keyed(key), body).status_code == 202
    hub.rows("select observai.revoke_api_key(id) from observai.api_keys where prefix = %s",
             key[:12])  # fmt: skip
    assert _error(hub.ingest(hub.keyed(key), body)) == (401, "UNAUTHORIZED")


def test_ingest_is_rate_limited_per_organization_by_tier(hub: Hub, fresh_budgets: None) -> None:
    body = {"metrics": [{"name": "burst", "value": 1}]}
    started = time.monotonic()
    accepted = 0
    while (answer := hub.ingest(hub.keyed(hub.b.key), body)).status_code == 202:
        accepted += 1
        assert accepted < 500, "never refused"
    elapsed = time.monotonic() - started
    # the free tier: a bucket of 60 requests, refilled at one a second while the burst ran
    assert 60 <= accepted <= 60 + elapsed + 1
    assert _error(answer) == (429, "RATE_LIMITED")
    assert (
        "at most 60 ingest requests a minute on the free tier" in answer.json()["error"]["message"]
    )
    # another organization's budget is its own
    assert hub.ingest(hub.keyed(hub.a.key), body).status_code == 202


# -- tenant isolation ----------------------------------------------------------------------------


def test_a_key_or_member_never_reaches_another_organization(hub: Hub, fresh_budgets: None) -> None:
    body = {"metrics": [{"name": "secret.revenue", "value": 1e6}]}
    assert hub.ingest(hub.keyed(hub.a.key), body).status_code == 202
    hub.rows("select * from observai.aggregate()")
    # naming the other organization: the same answer as an organization that does not exist
    for headers in (hub.keyed(hub.b.key), hub.signed_in(hub.b.owner)):
        for fn in ("metrics", "metrics-export", "alerts"):
            other = hub.get(fn, headers, organization="acme", name="secret.revenue")
            missing = hub.get(fn, headers, organization="no-such-org", name="secret.revenue")
            assert _error(other) == _error(missing) == (404, "NOT_FOUND")
            assert other.json()["error"]["message"] == missing.json()["error"]["message"]
        assert _error(hub.ingest(headers, body, organization="acme")) == (404, "NOT_FOUND")
    # its own view: none of the other's series
    own = hub.get("metrics", hub.keyed(hub.b.read_key), name="secret.revenue")
    assert own.json()["points"] == []
    export = hub.get("metrics-export", hub.keyed(hub.b.read_key)).text
    assert "secret.revenue" not in export
    assert hub.scalar("select count(*) from observai.metrics where organization_id = %s "
                      "and name = 'secret.revenue'", hub.b.id) == 0  # fmt: skip


@pytest.mark.parametrize(
    "table", ["organizations", "members", "metrics", "rollups", "anomalies", "alert_definitions",
              "alert_events", "audit_log"],
)  # fmt: skip
def test_members_read_only_their_organizations_rows(
    hub: Hub, table: str, fresh_budgets: None
) -> None:
    # both organizations own rollups whatever the clock: a point an hour old lies in complete
    # buckets of every resolution, and aggregate() re-rolls it as a backfill
    hour_ago = (_now() - dt.timedelta(hours=1)).isoformat()
    for org in (hub.a, hub.b):
        point = {"metrics": [{"name": "isolation.probe", "value": 1, "timestamp": hour_ago}]}
        assert hub.ingest(hub.keyed(org.key), point).status_code == 202
    hub.rows("select * from observai.aggregate()")
    column = "id" if table == "organizations" else "organization_id"
    query = f"select distinct {column}::text from observai.{table}"  # noqa: S608
    seen = As(hub.services, "authenticated", hub.b.owner).run(query)
    has_rows = table in ("organizations", "members", "metrics", "rollups", "audit_log")
    assert seen == ([(hub.b.id,)] if has_rows else [])
    assert As(hub.services, "authenticated", hub.a.outsider).run(query) == []
    assert As(hub.services, "anon").run(query) == DENIED


def test_only_owners_and_admins_read_the_audit_log(hub: Hub) -> None:
    query = "select count(*) from observai.audit_log"
    assert As(hub.services, "authenticated", hub.a.viewer).run(query) == [(0,)]
    owner_sees = As(hub.services, "authenticated", hub.a.owner).run(query)
    assert isinstance(owner_sees, list) and owner_sees[0][0] > 0
    # the ids an owner sees say nothing of how much other organizations logged between them
    # (they were counted by one sequence for all); so for anomalies and alert events
    ids = As(hub.services, "authenticated", hub.a.owner).run("select id from observai.audit_log")
    assert isinstance(ids, list) and ids and all(isinstance(row[0], uuid.UUID) for row in ids)
    assert hub.rows(
        "select table_name from information_schema.columns where table_schema = 'observai' "
        "and column_name = 'id' and data_type = 'uuid' and table_name = any(%s) order by 1",
        ["audit_log", "anomalies", "alert_events"],
    ) == [("alert_events",), ("anomalies",), ("audit_log",)]


# -- rollups, series, anomalies -------------------------------------------------------------------


def _hour_ago_aligned() -> dt.datetime:
    return (_now() - dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


def test_rollups_and_series_agree_with_the_raw_points(hub: Hub, fresh_budgets: None) -> None:
    # two hours of points, sent after the hub rolled those hours up (a backfill)
    hub.rows("select * from observai.aggregate()")
    start = _hour_ago_aligned()
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
    day_ago = (_now() - dt.timedelta(hours=26)).replace(minute=0, second=0, microsecond=0)
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
    assert _error(viewer_try) == (403, "FORBIDDEN")
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


def test_two_alert_checks_at_once_notify_once(hub: Hub) -> None:
    alert = hub.scalar(
        "insert into observai.alert_definitions (organization_id, name, metric, condition, "
        "threshold, window_length, channel) values (%s, 'race', 'race.metric', 'above', 0, "
        "'1 minute', %s) returning id", hub.a.id, HOOK,
    )  # fmt: skip
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
    alert = hub.scalar(
        "insert into observai.alert_definitions (organization_id, name, metric, condition, "
        "threshold, window_length, channel) values (%s, 'private', 'm', 'above', 1, "
        "'1 minute', %s) returning id::text", hub.a.id, HOOK,
    )  # fmt: skip
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
            assert _error(answer) == (404, "NOT_FOUND")
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
        assert _error(answer) == (422, "INVALID_INPUT")
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


# -- retention and archive -------------------------------------------------------------------------


def test_retention_by_tier_and_the_90_day_archive(hub: Hub) -> None:
    with hub.services.connect() as conn:
        big = conn.execute(
            "insert into observai.organizations (name, slug, tier) "
            "values ('Big', 'big', 'enterprise') returning id"
        ).fetchall()[0][0]
        conn.execute("select partman.create_partition_time('observai.metrics', "
                     "array[now() - interval '100 days'])")  # fmt: skip
        old = conn.execute(
            "select partition_schemaname || '.' || partition_tablename "
            "from partman.show_partitions('observai.metrics') limit 1"
        ).fetchall()[0][0]
        points = [
            (big, "now() - interval '100 days'"), (big, "now() - interval '95 days'"),
            (big, "now() - interval '1 day'"), (hub.b.id, "now() - interval '100 days'"),
            (hub.b.id, "now() - interval '10 days'"), (hub.b.id, "now() - interval '1 day'"),
        ]  # fmt: skip
        for org, at in points:
            conn.execute(
                f"insert into observai.metrics (organization_id, name, value, ts) "  # noqa: S608
                f"values (%s, 'retained', 1, {at})",
                [org],
            )
    archived, deleted, dropped = hub.rows("select * from observai.cleanup()")[0]
    assert dropped >= 1
    assert hub.scalar("select to_regclass(%s)", old) is None  # the old day partition is gone
    left = hub.rows("select organization_id::text, round(extract(day from now() - ts)) "
                    "from observai.metrics where name = 'retained' order by 1, 2")  # fmt: skip
    assert sorted(left) == sorted([(str(big), 1), (hub.b.id, 1)])
    assert hub.rows("select round(extract(day from now() - ts)) from observai.metrics_archive "
                    "where name = 'retained' order by 1") == [(95,), (100,)]  # fmt: skip
    assert archived == 2 and deleted >= 1


# -- export and cache ------------------------------------------------------------------------------


def test_the_prometheus_export_parses_and_holds_the_latest_minutes(
    hub: Hub, fresh_budgets: None
) -> None:
    minute_ago = (_now() - dt.timedelta(minutes=2)).isoformat()
    body = {"metrics": [{"name": "disk.used", "value": v, "timestamp": minute_ago}
                        for v in (1.0, 2.0, 6.0)]}  # fmt: skip
    assert hub.ingest(hub.keyed(hub.a.key), body).status_code == 202
    hub.rows("select * from observai.aggregate()")
    answer = hub.get("metrics-export", hub.keyed(hub.a.read_key))
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert set(families) >= {"observai_metric_avg", "observai_metric_min",
                             "observai_metric_max", "observai_metric_count"}  # fmt: skip
    disk = {name: next(s for s in families[name].samples if s.labels["name"] == "disk.used")
            for name in families}  # fmt: skip
    assert disk["observai_metric_avg"].value == 3.0
    assert disk["observai_metric_max"].value == 6.0
    assert disk["observai_metric_count"].value == 3.0
    assert disk["observai_metric_avg"].labels["organization"] == "acme"
    assert {s.labels["organization"] for f in families.values() for s in f.samples} == {"acme"}


def test_series_queries_are_cached_per_organization_and_survive_redis_going_away(
    hub: Hub,
) -> None:
    params = {"name": "cpu", "step": "300", "from": _hour_ago_aligned().isoformat(),
              "to": (_hour_ago_aligned() + dt.timedelta(hours=1)).isoformat()}  # fmt: skip

    # the function connects to Redis in the background: answers are "off" until it has
    def through_the_cache() -> list[httpx.Response]:
        answer = hub.get("metrics", hub.keyed(hub.a.read_key), **params)
        return [answer] if answer.headers["x-cache"] != "off" else []

    [first] = wait_until(through_the_cache)
    second = hub.get("metrics", hub.keyed(hub.a.key), **params)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.json() == second.json() and len(first.json()["points"]) == 12
    other = hub.get("metrics", hub.keyed(hub.b.read_key), **params)
    assert (other.headers["x-cache"], other.json()["points"]) == ("miss", [])
    redis = hub.env.redis(hub.services.credentials)
    assert redis is not None
    redis.stop()
    try:
        down = hub.get("metrics", hub.keyed(hub.a.read_key), **params)
        assert (down.status_code, down.headers["x-cache"]) == (200, "off")
        assert down.json()["points"] == first.json()["points"]
        # without the cache, authorized and read in one statement: refused as with it
        ingest_only = hub.scalar("select api_key from observai.create_api_key(%s, 'agent', "
                                 "'{ingest}')", hub.a.id)  # fmt: skip
        other = hub.get("metrics", hub.keyed(hub.b.read_key), organization="acme", **params)
        missing = hub.get("metrics", hub.keyed(hub.b.read_key), organization="none", **params)
        assert _error(other) == _error(missing) == (404, "NOT_FOUND")
        assert _error(hub.get("metrics", hub.keyed(ingest_only), **params)) == (403, "FORBIDDEN")
        unknown = hub.get("metrics", hub.keyed("oai_" + "0" * 40), **params)
        assert _error(unknown) == (401, "UNAUTHORIZED")
        own = hub.get("metrics", hub.keyed(hub.b.read_key), **params)
        assert (own.headers["x-cache"], own.json()["points"]) == ("off", [])
    finally:
        redis.start()


def test_concurrent_ingest_from_many_agents_stores_every_point(
    hub: Hub, fresh_budgets: None
) -> None:
    body = {"metrics": [{"name": "parallel", "value": 1}] * 100}
    answers: list[int] = []

    def send() -> None:
        answers.append(hub.ingest(hub.keyed(hub.a.key), body).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [202] * 8
    assert hub.scalar("select count(*) from observai.metrics where name = 'parallel'") == 800


def test_the_stack_smoke_tests_pass(hub: Hub) -> None:
    results = run_smoke(StackOutputs.model_validate(hub.deployment.outputs))
    assert [f"{r.name}: {r.detail}" for r in results if not r.ok] == []
    assert any(r.name.startswith("observai verify: the alert check answers") for r in results)


def test_the_seed_is_the_guides_default_organization(hub: Hub) -> None:
    assert hub.rows(
        "select slug, tier from observai.organizations "
        "where id = '00000000-0000-4000-8000-00000000da7a'"
    ) == [("default", "free")]
