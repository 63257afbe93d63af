"""Ingest (validation, whole batches, rights, revocation, rate limits by tier), and retention by
tier with the 90-day archive."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.observai.deployed import (
    Hub,
    error_of,
)

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
    assert error_of(hub.ingest(hub.keyed(unknown), body)) == (401, "UNAUTHORIZED")
    assert error_of(hub.ingest(hub.keyed("sk_live_guess"), body)) == (401, "UNAUTHORIZED")
    assert error_of(hub.ingest(hub.keyed(hub.a.read_key), body)) == (403, "FORBIDDEN")
    assert error_of(hub.ingest(hub.signed_in(hub.a.viewer), body, organization="acme")) == (
        403, "FORBIDDEN")  # fmt: skip
    assert error_of(hub.ingest(hub.signed_in(hub.a.owner), body)) == (422, "INVALID_INPUT")
    ok = hub.ingest(hub.signed_in(hub.a.owner), body, organization="acme")
    assert ok.status_code == 202
    too_big = httpx.post(f"{hub.url}/ingest", content=b"{" + b" " * 2_200_000 + b"}",
                         headers=hub.keyed(hub.a.key), timeout=30)  # fmt: skip
    assert error_of(too_big) == (413, "PAYLOAD_TOO_LARGE")


def test_a_keys_use_is_written_once_a_minute_not_on_every_call(hub: Hub) -> None:
    """Calls record the key's use when the recorded one is over a minute old: eight at once with
    a stale use write it once (the others re-check the row they waited for), and calls within
    the minute write nothing, so a busy dashboard's reads cost no write each."""
    key = hub.scalar("select api_key from observai.create_api_key(%s, 'busy', '{read}')",
                     hub.a.id)  # fmt: skip
    hub.rows("update observai.api_keys set last_used_at = now() - interval '2 minutes' "
             "where prefix = %s returning 1", key[:12])  # fmt: skip
    with hub.services.connect() as conn:
        conn.execute(WRITE_COUNTER.encode())
    try:

        def read(_: int) -> int:
            return hub.get("metrics", hub.keyed(key), name="cpu").status_code

        def burst() -> list[int]:
            with ThreadPoolExecutor(8) as pool:
                return list(pool.map(read, range(8)))

        assert burst() == [200] * 8
        recorded = hub.scalar("select last_used_at > now() - interval '1 minute' "
                              "from observai.api_keys where prefix = %s", key[:12])  # fmt: skip
        assert recorded is True
        assert hub.scalar("select count(*) from public.test_key_writes") == 1
        assert burst() == [200] * 8
        assert hub.scalar("select count(*) from public.test_key_writes") == 1
    finally:
        with hub.services.connect() as conn:
            conn.execute(b"drop function public.test_key_written() cascade; "
                         b"drop table public.test_key_writes")  # fmt: skip


#: Counts the writes of a key's last use (a trigger the test removes afterwards).
WRITE_COUNTER = """
create table public.test_key_writes (at timestamptz not null default clock_timestamp());
create function public.test_key_written() returns trigger language plpgsql as $$
begin insert into public.test_key_writes default values; return new; end $$;
create trigger test_key_written after update of last_used_at on observai.api_keys
  for each row execute function public.test_key_written();
"""


def test_a_revoked_key_is_refused_at_once(hub: Hub, fresh_budgets: None) -> None:
    key = hub.scalar("select api_key from observai.create_api_key(%s, 'old', '{ingest}')",
                     hub.a.id)  # fmt: skip
    body = {"metrics": [{"name": "x", "value": 1}]}
    assert hub.ingest(hub.keyed(key), body).status_code == 202
    hub.rows("select observai.revoke_api_key(id) from observai.api_keys where prefix = %s",
             key[:12])  # fmt: skip
    assert error_of(hub.ingest(hub.keyed(key), body)) == (401, "UNAUTHORIZED")


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
    assert error_of(answer) == (429, "RATE_LIMITED")
    assert (
        "at most 60 ingest requests a minute on the free tier" in answer.json()["error"]["message"]
    )
    # another organization's budget is its own
    assert hub.ingest(hub.keyed(hub.a.key), body).status_code == 202


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
