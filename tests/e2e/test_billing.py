"""The billing app's webhook pipeline, deployed by the program (offline harness) to a fresh
local target: Stripe's signatures (made by Stripe's own SDK), replays and duplicates, the queue
with retries, backoff and dead letters, two processors at once, a processor that died
mid-job, the monitor and its alert rule, the RLS matrix, and the stack's smoke tests."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from applier.engine import deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as run_smoke
from tests.conftest import Services
from tests.e2e.conftest import As, DeployedApp, local_config
from tests.e2e.stripe_fake import FakeStripe, signature

WEBHOOK_SECRET = "whsec_" + uuid.uuid4().hex
DENIED = "42501"


@dataclass
class Stack(DeployedApp):
    stripe: FakeStripe

    def service(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.services.credentials.secret_key}"}

    def deliver(self, event: dict[str, Any], *, timestamp: int | None = None,
                header: str | None = None) -> httpx.Response:  # fmt: skip
        payload = json.dumps(event)
        signed = header or signature(payload, WEBHOOK_SECRET, timestamp or int(time.time()))
        return httpx.post(f"{self.url}/webhook-handler", content=payload, timeout=30,
                          headers={"Stripe-Signature": signed,
                                   "Content-Type": "application/json"})  # fmt: skip

    def process(self) -> dict[str, int]:
        answer = httpx.post(f"{self.url}/batch-processor", json={}, headers=self.job(),
                            timeout=60)  # fmt: skip
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture(scope="module")
def stack(fresh: Services) -> Iterator[Stack]:
    stripe = FakeStripe()
    secrets = {"STRIPE_SECRET_KEY": "sk_test_" + uuid.uuid4().hex,
               "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": stripe.url}  # fmt: skip
    stack = Stack(fresh, deploy(local_config(fresh, apps=["billing"], secretValues=secrets)),
                  stripe)  # fmt: skip
    # The tests run the processor themselves, each step when they say: pg_cron's own run
    # (every minute) is paused meanwhile, and resumed for the smoke tests.
    _schedule(stack, active=False)
    yield stack
    stripe.close()


def _schedule(stack: Stack, *, active: bool) -> None:
    stack.rows("select cron.alter_job(jobid, active => %s) from cron.job "
               "where jobname = 'billing-batch-processor'", active)  # fmt: skip


def _subscription_event(
    kind: str = "customer.subscription.updated", *, status: str = "active",
    user: str | None = None, sub: str | None = None, created: int | None = None,
    customer: str | None = "cus_test",
) -> dict[str, Any]:  # fmt: skip
    obj: dict[str, Any] = {
        "id": sub or f"sub_{uuid.uuid4().hex[:14]}", "object": "subscription", "status": status,
        "current_period_end": int(time.time()) + 30 * 86400, "cancel_at_period_end": False,
        "items": {"data": [{"price": {"id": "price_pro"}}]},
        "metadata": {"user_id": user or str(uuid.uuid4())},
    }  # fmt: skip
    if customer is not None:
        obj["customer"] = customer
    return {"id": f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": kind,
            "created": created or int(time.time()), "livemode": False,
            "data": {"object": obj}}  # fmt: skip


def test_a_signed_event_is_recorded_once_and_applied(stack: Stack) -> None:
    user = str(uuid.uuid4())
    event = _subscription_event("customer.subscription.created", user=user)
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
    event = _subscription_event()
    before = stack.scalar("select count(*) from billing.webhook_events")
    assert stack.deliver(event, header="t=1,v1=test-signature").status_code == 400
    wrong = signature(json.dumps(event), "whsec_wrong", int(time.time()))
    assert stack.deliver(event, header=wrong).status_code == 400
    replay = stack.deliver(event, timestamp=int(time.time()) - 600)  # older than 5 minutes
    assert (replay.status_code, replay.json()["error"]["code"]) == (400, "BAD_SIGNATURE")
    bare = httpx.post(f"{stack.url}/webhook-handler", content=json.dumps(event), timeout=30)
    assert bare.status_code == 400
    assert stack.scalar("select count(*) from billing.webhook_events") == before


def test_an_older_event_never_overwrites_a_newer_one(stack: Stack) -> None:
    sub, now = f"sub_{uuid.uuid4().hex[:14]}", int(time.time())
    newer = _subscription_event(sub=sub, status="canceled", created=now)
    older = _subscription_event(sub=sub, status="active", created=now - 60)
    for event in (newer, older):  # Stripe does not promise order
        assert stack.deliver(event).status_code == 200
    stack.process()
    assert stack.scalar("select status from billing.subscriptions where id = %s", sub) == (
        "canceled")  # fmt: skip


def test_a_failing_job_backs_off_then_is_dead_lettered_and_can_be_requeued(stack: Stack) -> None:
    broken = _subscription_event(customer=None)  # not a subscription the pipeline can apply
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
    stack.rows("delete from billing.batch_jobs where id = %s returning 1", job)


def test_two_processors_at_once_apply_each_event_once(stack: Stack) -> None:
    events = [_subscription_event() for _ in range(40)]
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
    event = _subscription_event()
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
    for table in ("webhook_events", "batch_jobs", "webhook_deliveries", "webhook_dead_letters"):
        assert (
            As(stack.services, "authenticated", str(uuid.uuid4())).run(
                f"select count(*) from billing.{table}"  # noqa: S608
            )
            == DENIED
        )
        assert As(stack.services, "anon").run(f"select count(*) from billing.{table}") == DENIED  # noqa: S608


def test_subscription_status_serves_the_stored_state_and_rereads_stripe_when_stale(
    stack: Stack,
) -> None:
    user = str(uuid.uuid4())
    creds = stack.services.credentials
    signed_in = stack.signed_in(user)
    url = f"{stack.url}/subscription-status"
    assert httpx.get(url, headers=signed_in, timeout=30).json() == {"status": "none"}
    event = _subscription_event("customer.subscription.created", user=user)
    assert stack.deliver(event).status_code == 200
    stack.process()
    sub = event["data"]["object"]
    cached = httpx.get(url, headers=signed_in, timeout=30).json()
    assert (cached["subscriptionId"], cached["status"], cached["source"]) == (
        sub["id"], "active", "cache")  # fmt: skip
    assert stack.stripe.reads == []  # fresh: Stripe not asked
    # a minute later Stripe says past_due (a webhook not yet arrived): read and stored
    stack.stripe.subscriptions[sub["id"]] = {**sub, "status": "past_due"}
    stack.rows("update billing.subscriptions set updated_at = now() - interval '2 minutes' "
               "where id = %s returning 1", sub["id"])  # fmt: skip
    reread = httpx.get(url, headers=signed_in, timeout=30).json()
    assert (reread["status"], reread["source"]) == ("past_due", "stripe")
    assert stack.stripe.reads == [f"/v1/subscriptions/{sub['id']}"]
    assert httpx.get(url, headers=signed_in, timeout=30).json()["source"] == "cache"
    # Stripe unreachable: the stored state, said to be stale
    stack.rows("update billing.subscriptions set updated_at = now() - interval '2 minutes' "
               "where id = %s returning 1", sub["id"])  # fmt: skip
    stack.stripe.fail = True
    try:
        stale = httpx.get(url, headers=signed_in, timeout=60).json()
    finally:
        stack.stripe.fail = False
    assert (stale["status"], stale["stale"]) == ("past_due", True)
    # nobody else's
    other = stack.signed_in(str(uuid.uuid4()))
    assert httpx.get(url, headers=other, timeout=30).json() == {"status": "none"}
    anon = {"Authorization": f"Bearer {creds.anon_key}"}
    assert httpx.get(url, headers=anon, timeout=30).status_code == 401


def test_the_stack_smoke_tests_pass(stack: Stack) -> None:
    _schedule(stack, active=True)
    results = run_smoke(StackOutputs.model_validate(stack.deployment.outputs))
    assert [f"{r.name}: {r.detail}" for r in results if not r.ok] == []
