"""Capacity under 200 concurrent bookings, idempotency under retries at once, cancellation and
promotion, and book's and cancel's answers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx

from tests.conftest import wait_until
from tests.e2e.events.deployed import (
    RESEND_KEY,
    Stack,
    Studio,
    book_as,
    new_event,
    registrations_of,
)


def test_200_concurrent_bookings_fill_50_seats_and_waitlist_the_rest(stack: Stack) -> None:
    event = new_event(stack, str(stack.scalar("select id from events.organizations limit 1")),
                   capacity=50)  # fmt: skip
    users = [str(uuid.uuid4()) for _ in range(200)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda user: book_as(stack, user, event), users))

    assert {a.status_code for a in answers} == {201}
    statuses = [a.json()["status"] for a in answers]
    assert (statuses.count("confirmed"), statuses.count("waitlisted")) == (50, 150)
    assert registrations_of(stack, event) == (50, 150, 50)
    assert (
        stack.scalar("select count(*) from events.event_waitlists where event_id = %s", event)
        == 150
    )


def test_the_same_key_sent_10_times_at_once_books_once(stack: Stack, studio: Studio) -> None:
    user, key = str(uuid.uuid4()), str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: book_as(stack, user, studio.free_event, key), range(10)))

    ids = {a.json()["registrationId"] for a in answers}
    assert len(ids) == 1
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]  # one booked, 9 replayed
    assert (
        stack.scalar("select count(*) from events.registrations where customer_id = %s", user) == 1
    )


def test_a_cancellation_promotes_the_first_waitlisted(stack: Stack, studio: Studio) -> None:
    event = new_event(stack, studio.org, capacity=1)
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    booked = book_as(stack, first, event).json()
    assert book_as(stack, second, event).json()["status"] == "waitlisted"
    assert book_as(stack, third, event).json()["status"] == "waitlisted"

    cancelled = httpx.post(f"{stack.url}/cancel", headers=stack.token(first),
                           json={"registrationId": booked["registrationId"]})  # fmt: skip

    assert cancelled.status_code == 200 and cancelled.json()["promoted"] == 1
    assert (
        stack.scalar(
            "select status from events.registrations where event_id = %s and customer_id = %s",
            event,
            second,
        )
        == "confirmed"
    )
    assert registrations_of(stack, event) == (1, 1, 1)
    again = httpx.post(f"{stack.url}/cancel", headers=stack.token(first),
                       json={"registrationId": booked["registrationId"]})  # fmt: skip
    assert again.status_code == 200 and again.json()["promoted"] == 0  # cancelling is idempotent


def test_the_promotion_job_fills_seats_freed_outside_a_cancellation(
    stack: Stack, studio: Studio
) -> None:
    event = new_event(stack, studio.org, capacity=1)
    book_as(stack, str(uuid.uuid4()), event)
    waiting = str(uuid.uuid4())
    book_as(stack, waiting, event)
    stack.scalar("update events.class_events set capacity = 2 where id = %s returning 1", event)
    job = str(stack.scalar(
        "select decrypted_secret from vault.decrypted_secrets where name = 'JOB_SECRET'"
    ))  # fmt: skip

    answer = httpx.post(f"{stack.url}/waitlist-promote",
                        headers={"Authorization": f"Bearer {job}"}, json={})  # fmt: skip

    assert answer.status_code == 200 and answer.json()["promoted"] >= 1
    assert registrations_of(stack, event) == (2, 0, 2)


def test_book_answers_and_refuses(stack: Stack, studio: Studio) -> None:
    user = str(uuid.uuid4())
    url = f"{stack.url}/book"
    good = {"eventId": studio.free_event, "paymentMethod": "none"}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    cases: list[tuple[dict[str, str], Any, int, str | None]] = [
        ({}, good, 401, None),  # the gateway's answer (verify_jwt)
        (stack.token(user), good, 400, "IDEMPOTENCY_KEY_REQUIRED"),
        ({**stack.token(user), **key}, None, 400, "BAD_JSON"),
        ({**stack.token(user), **key}, {**good, "eventId": "x"}, 422, "INVALID_INPUT"),
        ({**stack.token(user), **key}, {**good, "paymentMethod": "cash"}, 422, "INVALID_INPUT"),
        ({**stack.token(user), **key}, {**good, "paymentMethod": "twint"}, 422,
         "PAYMENT_METHOD_UNAVAILABLE"),
        ({**stack.token(user), **key}, {**good, "customerId": str(uuid.uuid4())}, 403,
         "FORBIDDEN"),
        ({**stack.token(user), **key}, {**good, "eventId": str(uuid.uuid4())}, 404, "NOT_FOUND"),
        ({**stack.token(user), **key}, {"eventId": studio.paid_event, "paymentMethod": "none"},
         422, "INVALID_INPUT"),
    ]  # fmt: skip
    for headers, body, status, code in cases:
        answer = (
            httpx.post(url, headers=headers, json=body)
            if body is not None
            else httpx.post(url, headers=headers, content=b"{")
        )
        assert answer.status_code == status, (body, answer.text)
        assert code is None or answer.json()["error"]["code"] == code, answer.text
    first = book_as(stack, user, studio.free_event)
    assert first.status_code == 201
    twice = book_as(stack, user, studio.free_event)  # another key, same event
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "CONFLICT"
    reused = book_as(stack, str(uuid.uuid4()), studio.free_event)
    other_event = new_event(stack, studio.org, capacity=3)
    mismatch = book_as(stack, user, other_event, key=first.request.headers["Idempotency-Key"])
    assert reused.status_code == 201 and mismatch.status_code == 409


def test_book_sends_the_confirmation_e_mail(stack: Stack, studio: Studio) -> None:
    event = new_event(stack, studio.org, capacity=3)
    headers = {**stack.token(str(uuid.uuid4()), email="ada@example.org"),
               "Idempotency-Key": str(uuid.uuid4())}  # fmt: skip
    body = {"eventId": event, "paymentMethod": "none"}
    booked = httpx.post(f"{stack.url}/book", headers=headers, json=body)
    assert booked.status_code == 201
    registration = booked.json()["registrationId"]
    mailed = wait_until(lambda: [m for m in stack.email.sent.values()
                                 if registration in m["text"]])  # fmt: skip
    assert [(m["to"], m["subject"], m["authorization"]) for m in mailed] == [
        (["ada@example.org"], "Booking confirmed", f"Bearer {RESEND_KEY}")]  # fmt: skip
    # the retried request (the same Idempotency-Key) is answered as a replay, mails nothing more
    replay = httpx.post(f"{stack.url}/book", headers=headers, json=body)
    assert (replay.status_code, replay.json()["registrationId"]) == (200, registration)
    assert f"booking-confirmed-{registration}" in stack.email.keys  # Resend's idempotency key
    assert len([m for m in stack.email.sent.values() if registration in m["text"]]) == 1


def _together(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """The calls sent at one instant (each thread waits for the others at a barrier)."""
    barrier = threading.Barrier(len(calls))

    def fire(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(fire, calls))


def _with_key(stack: Stack, customer: str, key: str) -> int:
    return int(stack.scalar("select count(*) from events.registrations where customer_id = %s "
                            "and idempotency_key = %s", customer, key))  # fmt: skip


def test_one_key_sent_for_two_events_at_once_books_one_and_refuses_the_other(
    stack: Stack, studio: Studio
) -> None:
    """The collision the probes found (a 500 in 3 of 5 tries): now the second request waits
    for the key the first claimed and gets the answer it gets when they come one by one."""
    for _ in range(5):
        customer, key = str(uuid.uuid4()), str(uuid.uuid4())
        events = [new_event(stack, studio.org, capacity=5) for _ in range(2)]
        answers = _together([partial(book_as, stack, customer, e, key=key) for e in events])
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409).json()["error"]
        assert refused == {
            "code": "CONFLICT",
            "message": "this Idempotency-Key was used for another booking",
        }
        assert _with_key(stack, customer, key) == 1


def test_ten_retries_of_one_booking_at_once_make_one_registration(
    stack: Stack, studio: Studio
) -> None:
    customer, key = str(uuid.uuid4()), str(uuid.uuid4())
    event = new_event(stack, studio.org, capacity=5)
    answers = _together([partial(book_as, stack, customer, event, key=key)] * 10)
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["registrationId"] for a in answers}) == 1
    assert _with_key(stack, customer, key) == 1


def test_one_customer_booking_one_event_with_ten_keys_at_once_is_registered_once(
    stack: Stack, studio: Studio
) -> None:
    customer = str(uuid.uuid4())
    event = new_event(stack, studio.org, capacity=5)
    answers = _together([partial(book_as, stack, customer, event)] * 10)
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9
    assert {a.json()["error"]["message"] for a in answers if a.status_code == 409} == {
        "already registered for this event"}  # fmt: skip
    assert stack.scalar("select count(*) from events.registrations where customer_id = %s "
                        "and event_id = %s", customer, event) == 1  # fmt: skip


def test_ten_cancellations_of_one_registration_at_once_free_one_seat_once(
    stack: Stack, studio: Studio
) -> None:
    """Retries of one cancellation sent together: every answer a 200 (cancelling is
    idempotent), the seat freed once, exactly one waitlisted customer promoted."""
    event = new_event(stack, studio.org, capacity=1)
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    booked = book_as(stack, first, event).json()
    for waiting in (second, third):
        assert book_as(stack, waiting, event).json()["status"] == "waitlisted"
    cancel = partial(httpx.post, f"{stack.url}/cancel", headers=stack.token(first),
                     json={"registrationId": booked["registrationId"]}, timeout=30)  # fmt: skip
    answers = _together([cancel] * 10)
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert sum(a.json()["promoted"] for a in answers) == 1
    status = "select status from events.registrations where event_id = %s and customer_id = %s"
    assert [stack.scalar(status, event, c) for c in (first, second, third)] == [
        "cancelled", "confirmed", "waitlisted"]  # the first waitlisted, once  # fmt: skip


def test_cancel_answers_absent_and_not_yours_alike(stack: Stack, studio: Studio) -> None:
    owner = str(uuid.uuid4())
    registration = book_as(stack, owner, new_event(stack, studio.org, capacity=2)).json()
    url = f"{stack.url}/cancel"
    theirs = httpx.post(url, headers=stack.token(str(uuid.uuid4())),
                        json={"registrationId": registration["registrationId"]})  # fmt: skip
    absent = httpx.post(url, headers=stack.token(str(uuid.uuid4())),
                        json={"registrationId": str(uuid.uuid4())})  # fmt: skip
    assert (theirs.status_code, absent.status_code) == (404, 404)
    assert theirs.json()["error"] == absent.json()["error"]
    assert httpx.post(url, json={"registrationId": str(uuid.uuid4())}).status_code == 401
    bad = httpx.post(url, headers=stack.token(owner), json={"registrationId": 1})
    assert bad.status_code == 422
