"""events-search's rows and cache lifetimes in UTC, and the jobs' secret."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import httpx

from tests.conftest import js_time
from tests.e2e.events.deployed import (
    Stack,
    Studio,
)


def test_events_search_serves_published_events_with_cache_lifetimes(
    stack: Stack, studio: Studio
) -> None:
    stack.scalar("select events.refresh_all_materialized_views() is null")
    anon = {"Authorization": f"Bearer {stack.services.credentials.anon_key}"}
    search: Callable[[str], httpx.Response] = lambda query: httpx.get(  # noqa: E731
        f"{stack.url}/events-search{query}", headers=anon
    )
    listing = search("?org=studio-a")
    assert listing.status_code == 200
    assert listing.headers["cache-control"] == "public, max-age=30, s-maxage=60"
    assert studio.free_event in {e["event_id"] for e in listing.json()}
    assert search("?view=locations&org=studio-a").headers["cache-control"].endswith("300")
    branding = search("?view=organization&org=studio-a")
    assert branding.headers["cache-control"] == "public, max-age=3600, s-maxage=3600"
    assert branding.json()["name"] == "studio-a"
    assert search("?view=organization&org=nobody").status_code == 404
    assert search("?view=everything").status_code == 422
    assert search("?view=locations").status_code == 422
    assert httpx.post(f"{stack.url}/events-search", headers=anon).status_code == 405


def test_events_search_serves_the_stored_rows_in_utc_whatever_the_refresh_time_zone(
    stack: Stack, studio: Studio
) -> None:
    # each row's JSON is made when the read model is refreshed (its `listing`): a refresh from
    # a session in another time zone writes the same UTC times, and the answer is the event's
    with stack.services.connect() as conn:
        conn.execute("set timezone = 'Pacific/Chatham'")
        conn.execute("select events.refresh_all_materialized_views()")
        row = conn.execute("select starts_at, ends_at, capacity - reg_count - hold_count "
                           "from events.class_events where id = %s",
                           (studio.paid_event,)).fetchone()  # fmt: skip
    assert row is not None
    starts, ends, seats = row
    assert isinstance(starts, datetime) and isinstance(ends, datetime)
    anon = {"Authorization": f"Bearer {stack.services.credentials.anon_key}"}
    listing = httpx.get(f"{stack.url}/events-search?org=studio-a&limit=200", headers=anon).json()

    assert {e["event_id"]: e for e in listing}[studio.paid_event] == {
        "event_id": studio.paid_event, "starts_at": js_time(starts), "ends_at": js_time(ends),
        "title": "class", "seats_left": seats, "price_cents": 2500, "currency": "chf",
        "org_slug": "studio-a", "org_name": "studio-a", "location_name": None,
        "instructor_name": None,
    }  # fmt: skip
    times = [e["starts_at"] for e in listing]
    assert times == sorted(times) and len(times) >= 2


def test_the_jobs_answer_the_job_secret_only(stack: Stack) -> None:
    job = str(stack.scalar(
        "select decrypted_secret from vault.decrypted_secrets where name = 'JOB_SECRET'"
    ))  # fmt: skip
    generated = httpx.post(f"{stack.url}/events-generate",
                           headers={"Authorization": f"Bearer {job}"}, json={})  # fmt: skip
    assert generated.status_code == 200 and "generatedUntil" in generated.json()
    for slug in ("events-generate", "waitlist-promote"):
        assert httpx.post(f"{stack.url}/{slug}", json={}).status_code == 401
        assert httpx.post(f"{stack.url}/{slug}", headers=stack.token(str(uuid.uuid4())),
                          json={}).status_code == 401  # fmt: skip
    bad = httpx.post(f"{stack.url}/events-generate", headers={"Authorization": f"Bearer {job}"},
                     json={"until": "tomorrow"})  # fmt: skip
    assert bad.status_code == 422
