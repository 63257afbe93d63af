"""The Prometheus export, the series cache's hit, miss and Redis-down paths, concurrent ingest,
the smoke tests and the seed."""

from __future__ import annotations

import datetime as dt
import threading

import httpx
from prometheus_client.parser import text_string_to_metric_families

from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as run_smoke
from tests.conftest import wait_until
from tests.e2e.observai.deployed import (
    Hub,
    error_of,
    hour_ago_aligned,
    utc_now,
)

# -- export and cache ------------------------------------------------------------------------------


def test_the_prometheus_export_parses_and_holds_the_latest_minutes(
    hub: Hub, fresh_budgets: None
) -> None:
    minute_ago = (utc_now() - dt.timedelta(minutes=2)).isoformat()
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
    hub: Hub, fresh_budgets: None
) -> None:
    start = hour_ago_aligned()
    points = [{"name": "cached", "value": float(i),
               "timestamp": (start + dt.timedelta(minutes=5 * i)).isoformat()}
              for i in range(12)]  # fmt: skip
    assert hub.ingest(hub.keyed(hub.a.key), {"metrics": points}).status_code == 202
    hub.rows("select * from observai.aggregate()")  # a backfill: the series reads its rollups
    params = {"name": "cached", "step": "300", "from": start.isoformat(),
              "to": (start + dt.timedelta(hours=1)).isoformat()}  # fmt: skip

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
        assert error_of(other) == error_of(missing) == (404, "NOT_FOUND")
        assert error_of(hub.get("metrics", hub.keyed(ingest_only), **params)) == (403, "FORBIDDEN")
        unknown = hub.get("metrics", hub.keyed("oai_" + "0" * 40), **params)
        assert error_of(unknown) == (401, "UNAUTHORIZED")
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
