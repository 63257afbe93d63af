"""Stripe's signatures (made by Stripe's own SDK), replays and duplicates, the queue with
retries, backoff and dead letters, two processors at once, a processor that died mid-job, and
who may call the monitor and the processor."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx

from tests.conftest import wait_until
from tests.e2e.billing.deployed import (
    DENIED,
    Stack,
    subscription_event,
)
from tests.e2e.conftest import As
from tests.e2e.stripe_fake import signature


def test_a_signed_event_is_recorded_once_and_applied(stack: Stack) -> None:
    user = str(uuid.uuid4())
    event = subscription_event("customer.subscription.created", user=user)
    first = stack.deliver(event)
    again = stack.deliver(event)  # Stripe delivers again until it sees a 2xx
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert stack.scalar("select count(*) from billing.batch_jobs where event_id = %s",
                        event["id"]) == 1  # fmt: skip
    assert stack.process()["succeeded"] >= 1
    sub = event["data"]["object"]["id"]
    assert stack.rows("select status, price_id, user_id::text from billing.subscriptions "
                      "where id = %s", sub) == [("active", "price_pro", user)]  # fmt: skip
    assert stack.scalar("select status from billing.webhook_events where id = %s",
                        event["id"]) == "processed"  # fmt: skip
    # the subscriber reads it over the Data API; someone else does not
    query = "select id from billing.subscriptions"
    assert As(stack.services, "authenticated", user).run(query) == [(sub,)]
    assert As(stack.services, "authenticated", str(uuid.uuid4())).run(query) == []


def test_what_stripe_did_not_sign_now_is_refused_and_stores_nothing(stack: Stack) -> None:
    event = subscription_event()
    before = stack.scalar("select count(*) from billing.webhook_events")
    assert stack.deliver(event, header="t=1,v1=test-signature").status_code == 400
    wrong = signature(json.dumps(event), "whsec_wrong", int(time.time()))
    assert stack.deliver(event, header=wrong).status_code == 400
    replay = stack.deliver(event, timestamp=int(time.time()) - 600)  # older than 5 minutes
    assert (replay.status_code, replay.json()["error"]["code"]) == (400, "BAD_SIGNATURE")
    bare = httpx.post(f"{stack.url}/webhook-handler", content=json.dumps(event), timeout=30)
    assert bare.status_code == 400
    assert stack.scalar("select count(*) from billing.webhook_events") == before


def test_a_delivery_while_the_database_is_down_is_refused_and_its_retry_counts_once(
    stack: Stack,
) -> None:
    """Stripe retries any delivery not answered 2xx: the handler must never say 200 for an
    event it could not store, and the retry after the restart must be the first record. The
    refused delivery is counted too: its invocation row, refused by the stopped database, is
    written once the database is back, dated when it was answered."""
    event = subscription_event()
    started = stack.scalar("select now()")
    runtime_log = stack.services.env.paths.runtime_log
    held_before = runtime_log.read_text().count('"event":"invocations-held"')
    cluster = stack.services.env.cluster(stack.services.credentials)
    cluster.stop()
    try:
        down = stack.deliver(event)
        # down until the refused delivery's invocation row has failed to be written
        wait_until(
            lambda: runtime_log.read_text().count('"event":"invocations-held"') > held_before,
            timeout=30,
            every=0.1,
        )
    finally:
        cluster.start()
    back = stack.scalar("select now()")
    assert down.status_code >= 500
    counted = wait_until(
        lambda: stack.rows(
            "select status, invoked_at < %s from monitoring.function_invocations "
            "where request_id = %s",
            back, down.headers["x-request-id"],
        ),
        timeout=30,
        every=0.5,
    )  # fmt: skip
    assert counted == [(down.status_code, True)]

    def stored() -> httpx.Response | None:
        answer = stack.deliver(event)
        return answer if answer.status_code == 200 else None

    retried = wait_until(stored, timeout=30, every=0.5)
    assert retried is not None and retried.json()["duplicate"] is False
    assert stack.deliver(event).json()["duplicate"] is True
    stack.process()
    assert stack.scalar("select status from billing.webhook_events where id = %s",
                        event["id"]) == "processed"  # fmt: skip
    stack.forget_failures("webhook-handler", started)  # the refused delivery


def test_an_older_event_never_overwrites_a_newer_one(stack: Stack) -> None:
    sub, now = f"sub_{uuid.uuid4().hex[:14]}", int(time.time())
    newer = subscription_event(sub=sub, status="canceled", created=now)
    older = subscription_event(sub=sub, status="active", created=now - 60)
    for event in (newer, older):  # Stripe does not promise order
        assert stack.deliver(event).status_code == 200
    stack.process()
    assert stack.scalar("select status from billing.subscriptions where id = %s", sub) == (
        "canceled")  # fmt: skip


def test_a_failing_job_backs_off_then_is_dead_lettered_and_can_be_requeued(stack: Stack) -> None:
    broken = subscription_event(customer=None)  # not a subscription the pipeline can apply
    assert stack.deliver(broken).status_code == 200
    job = stack.scalar("select id from billing.batch_jobs where event_id = %s", broken["id"])
    delays = []
    for attempt in range(1, 6):
        stack.process()
        status, attempts, delay = stack.rows(
            "select status, attempts, extract(epoch from next_attempt_at - "
            "(select max(started_at) from billing.webhook_deliveries where job_id = j.id)) "
            "from billing.batch_jobs j where id = %s", job,
        )[0]  # fmt: skip
        assert attempts == attempt
        if status == "queued":
            delays.append(round(float(delay)))
            assert stack.process()["retried"] == 0  # not due yet: the backoff holds
            # the backoff has passed (moved instead of waited for)
            stack.rows("update billing.batch_jobs set next_attempt_at = now() where id = %s "
                       "returning 1", job)  # fmt: skip
    assert delays == [30, 60, 120, 240]
    assert status == "dead"
    dead_letter = stack.rows(
        "select attempts, last_error like '%%not a subscription%%' "
        "from billing.webhook_dead_letters where job_id = %s",
        job,
    )
    assert dead_letter == [(5, True)]
    assert stack.rows("select outcome, count(*) from billing.webhook_deliveries "
                      "where job_id = %s group by 1", job) == [("failed", 5)]  # fmt: skip
    health = httpx.get(f"{stack.url}/webhook-monitor", headers=stack.service(), timeout=30).json()
    assert health["deadLetters"] >= 1 and health["events"]["dead"] >= 1
    stack.rows("select monitoring.evaluate_alert_rules(array['billing-webhooks-dead-lettered'])")
    assert stack.scalar("select state from monitoring.alert_rules "
                        "where name = 'billing-webhooks-dead-lettered'") == "firing"  # fmt: skip
    requeued = httpx.post(f"{stack.url}/webhook-monitor", json={"requeue": job},
                          headers=stack.service(), timeout=30)  # fmt: skip
    assert requeued.status_code == 200
    assert stack.rows("select status, attempts from billing.batch_jobs where id = %s", job) == [
        ("queued", 0)]  # fmt: skip
    again = httpx.post(f"{stack.url}/webhook-monitor", json={"requeue": job},
                       headers=stack.service(), timeout=30)  # fmt: skip
    assert again.status_code == 404  # requeued already: no dead letter left
    stack.rows("select monitoring.evaluate_alert_rules(array['billing-webhooks-dead-lettered'])")
    assert stack.scalar("select state from monitoring.alert_rules "
                        "where name = 'billing-webhooks-dead-lettered'") == "ok"  # fmt: skip
    stack.rows("delete from billing.batch_jobs where id = %s returning 1", job)


def test_two_processors_at_once_apply_each_event_once(stack: Stack) -> None:
    events = [subscription_event() for _ in range(40)]
    for event in events:
        assert stack.deliver(event).status_code == 200
    results: list[dict[str, int]] = []
    runs = [threading.Thread(target=lambda: results.append(stack.process())) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    ids = [e["id"] for e in events]
    assert stack.rows("select count(*), count(distinct job_id) from billing.webhook_deliveries d "
                      "join billing.batch_jobs j on j.id = d.job_id where j.event_id = any(%s)",
                      ids) == [(40, 40)]  # fmt: skip
    # every job done, once, by whichever of the two took it
    assert stack.rows("select status, count(*) from billing.batch_jobs where event_id = any(%s) "
                      "group by 1", ids) == [("done", 40)]  # fmt: skip
    assert sum(r["succeeded"] for r in results) == 40


def test_a_job_whose_processor_died_is_taken_again_after_its_lease(stack: Stack) -> None:
    event = subscription_event()
    assert stack.deliver(event).status_code == 200
    # a processor took it and died: running, its lease run out
    stack.rows("update billing.batch_jobs set status = 'running', attempts = 1, "
               "leased_until = now() - interval '1 second' where event_id = %s returning 1",
               event["id"])  # fmt: skip
    assert stack.process()["succeeded"] >= 1
    assert stack.rows("select status, attempts from billing.batch_jobs where event_id = %s",
                      event["id"]) == [("done", 2)]  # fmt: skip


def test_the_monitor_and_the_processor_refuse_other_callers(stack: Stack) -> None:
    creds = stack.services.credentials
    anon = {"Authorization": f"Bearer {creds.anon_key}"}
    user = stack.signed_in(str(uuid.uuid4()))
    monitor = f"{stack.url}/webhook-monitor"
    assert httpx.get(monitor, headers=anon, timeout=30).status_code == 401
    assert httpx.get(monitor, headers=user, timeout=30).status_code == 403
    assert httpx.get(monitor, params={"hours": "0"}, headers=stack.service(),
                     timeout=30).status_code == 422  # fmt: skip
    processor = f"{stack.url}/batch-processor"
    assert httpx.post(processor, json={}, headers=anon, timeout=30).status_code == 401
    assert httpx.post(processor, json={"batchSize": 0}, headers=stack.job(),
                      timeout=30).status_code == 422  # fmt: skip
    for table in (
        "webhook_events",
        "batch_jobs",
        "webhook_deliveries",
        "webhook_dead_letters",
        "quotes",
        "quote_items",
        "quote_emails",
    ):
        assert (
            As(stack.services, "authenticated", str(uuid.uuid4())).run(
                f"select count(*) from billing.{table}"  # noqa: S608
            )
            == DENIED
        )
        assert As(stack.services, "anon").run(f"select count(*) from billing.{table}") == DENIED  # noqa: S608
