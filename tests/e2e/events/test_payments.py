"""A paid booking's seat held until Stripe confirms it, Stripe's signatures, a failed payment,
and Stripe unreachable."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from tests.e2e.events.deployed import (
    WEBHOOK_SECRET,
    Stack,
    Studio,
    book_as,
    new_event,
)
from tests.e2e.stripe_fake import signature


def _webhook(stack: Stack, event: dict[str, Any], timestamp: int | None = None,
             header: str | None = None) -> httpx.Response:  # fmt: skip
    payload = json.dumps(event)
    sent = header or signature(payload, WEBHOOK_SECRET, timestamp or int(time.time()))
    return httpx.post(
        f"{stack.url}/webhooks-stripe", content=payload,
        headers={"stripe-signature": sent, "content-type": "application/json"},
    )  # fmt: skip


def _stripe_event(kind: str, intent: str) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": kind,
            "data": {"object": {"id": intent, "object": "payment_intent"}}}  # fmt: skip


def test_a_paid_booking_holds_its_seat_until_stripe_confirms_it(
    stack: Stack, studio: Studio
) -> None:
    user = str(uuid.uuid4())
    booked = book_as(stack, user, studio.paid_event, method="stripe")
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert (body["status"], body["paymentStatus"]) == ("pending", "requires_payment")
    assert body["clientSecret"].endswith("_secret_test")
    intent = str(stack.scalar(
        "select payment_intent_id from events.registrations where id = %s", body["registrationId"]
    ))  # fmt: skip
    assert stack.stripe.created[body["registrationId"]]["id"] == intent  # Stripe's key: the id
    assert (
        stack.scalar("select hold_count from events.class_events where id = %s", studio.paid_event)
        == 1
    )

    succeeded = _stripe_event("payment_intent.succeeded", intent)
    answer = _webhook(stack, succeeded)

    assert answer.status_code == 200 and answer.json()["outcome"] == "confirmed"
    assert (
        stack.scalar(
            "select status || '/' || payment_status from events.registrations where id = %s",
            body["registrationId"],
        )
        == "confirmed/succeeded"
    )
    replayed = _webhook(stack, succeeded)
    assert replayed.status_code == 200 and replayed.json()["outcome"] == "duplicate"


def test_the_webhook_refuses_what_stripe_did_not_sign_now(stack: Stack, studio: Studio) -> None:
    event = _stripe_event("payment_intent.payment_failed", "pi_unknown")
    assert _webhook(stack, event, header="test-signature").status_code == 400  # the guide's curl
    wrong = signature(json.dumps(event), "whsec_wrong", int(time.time()))
    assert _webhook(stack, event, header=wrong).status_code == 400
    stale = _webhook(stack, event, timestamp=int(time.time()) - 600)
    assert stale.status_code == 400 and stale.json()["error"]["code"] == "BAD_SIGNATURE"
    no_header = httpx.post(f"{stack.url}/webhooks-stripe", content=json.dumps(event))
    assert no_header.status_code == 400
    assert stack.scalar("select count(*) from events.stripe_events where id = %s",
                        event["id"]) == 0  # fmt: skip
    unknown = _webhook(stack, _stripe_event("customer.created", "cus_1"))
    assert unknown.status_code == 200 and unknown.json()["outcome"] == "ignored"


def test_a_failed_payment_releases_the_seat_to_the_waitlist(stack: Stack, studio: Studio) -> None:
    event = new_event(stack, studio.org, capacity=1, price=1000)
    payer, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    booked = book_as(stack, payer, event, method="stripe").json()
    assert book_as(stack, waiting, event, method="stripe").json()["status"] == "waitlisted"
    intent = str(stack.scalar(
        "select payment_intent_id from events.registrations where id = %s", booked["registrationId"]
    ))  # fmt: skip

    answer = _webhook(stack, _stripe_event("payment_intent.payment_failed", intent))

    assert answer.json()["outcome"] == "released"
    assert (
        stack.scalar(
            "select status from events.registrations where event_id = %s and customer_id = %s",
            event,
            waiting,
        )
        == "pending"
    )  # promoted: it now holds the seat until it pays


def test_stripe_unreachable_books_nothing(stack: Stack, studio: Studio) -> None:
    event = new_event(stack, studio.org, capacity=1, price=1000)
    stack.stripe.fail = True
    try:
        answer = book_as(stack, str(uuid.uuid4()), event, method="stripe")
    finally:
        stack.stripe.fail = False
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "PAYMENT_PROVIDER_ERROR"
    assert stack.scalar("select hold_count + reg_count from events.class_events where id = %s",
                        event) == 0  # fmt: skip
