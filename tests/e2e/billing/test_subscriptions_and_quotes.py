"""subscription-status's stored state and Stripe re-reads, and the quote functions: pricing,
retries, refusals naming the item, acceptance and the PDF."""

from __future__ import annotations

import base64
import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from pypdf import PdfReader

from tests.e2e.billing.deployed import (
    Stack,
    subscription_event,
)


def test_subscription_status_serves_the_stored_state_and_rereads_stripe_when_stale(
    stack: Stack,
) -> None:
    user = str(uuid.uuid4())
    creds = stack.services.credentials
    signed_in = stack.signed_in(user)
    url = f"{stack.url}/subscription-status"
    read_before = len(stack.stripe.reads)  # the package's other tests' reads
    assert httpx.get(url, headers=signed_in, timeout=30).json() == {"status": "none"}
    event = subscription_event("customer.subscription.created", user=user)
    assert stack.deliver(event).status_code == 200
    stack.process()
    sub = event["data"]["object"]
    cached = httpx.get(url, headers=signed_in, timeout=30).json()
    assert (cached["subscriptionId"], cached["status"], cached["source"]) == (
        sub["id"], "active", "cache")  # fmt: skip
    assert stack.stripe.reads[read_before:] == []  # fresh: Stripe not asked
    # a minute later Stripe says past_due (a webhook not yet arrived): read and stored
    stack.stripe.subscriptions[sub["id"]] = {**sub, "status": "past_due"}
    stack.rows("update billing.subscriptions set updated_at = now() - interval '2 minutes' "
               "where id = %s returning 1", sub["id"])  # fmt: skip
    reread = httpx.get(url, headers=signed_in, timeout=30).json()
    assert (reread["status"], reread["source"]) == ("past_due", "stripe")
    assert stack.stripe.reads[read_before:] == [f"/v1/subscriptions/{sub['id']}"]
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


PRO_AND_SEATS = [
    {"price": "price_pro_monthly", "quantity": 2},
    {"price": "price_extra_seat", "quantity": 3, "description": "Seats for QA"},
]


def test_a_quote_is_priced_from_the_catalog_and_a_retry_returns_it(stack: Stack) -> None:
    user = stack.signed_in(str(uuid.uuid4()))
    key = str(uuid.uuid4())
    first = stack.quote(user, PRO_AND_SEATS, key)
    assert first.status_code == 201, first.text
    quote = first.json()
    assert (quote["total"], quote["currency"], quote["status"]) == (2 * 4900 + 3 * 1200, "usd",
                                                                    "open")  # fmt: skip
    assert [(i["description"], i["amount"]) for i in quote["items"]] == [
        ("Pro plan (monthly)", 9800), ("Seats for QA", 3600)]  # fmt: skip
    again = stack.quote(user, PRO_AND_SEATS, key)
    assert (again.status_code, again.json()) == (200, quote)
    other = stack.quote(user, PRO_AND_SEATS[:1], key)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "CONFLICT")
    # the same request five times at once: one quote
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: stack.quote(user, PRO_AND_SEATS, key), range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    # one key for two different quotes at the same instant: one quote, and the other request
    # gets the 409 it gets one by one (the unique rule waits for the first; never a 500)
    key, carts = str(uuid.uuid4()), [PRO_AND_SEATS, PRO_AND_SEATS[:1]]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda cart: stack.quote(user, cart, key), carts))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    listed = httpx.get(f"{stack.url}/quote-processor", headers=user, timeout=30).json()["quotes"]
    assert len(listed) == 3


def test_bad_quote_requests_are_refused_naming_the_item_and_store_nothing(stack: Stack) -> None:
    # prices come from Stripe's events: a euro price, and a price Stripe deleted
    for kind, price in (("price.created", {"id": "price_eur", "currency": "eur"}),
                        ("price.deleted", {"id": "price_gone", "currency": "usd"})):  # fmt: skip
        obj = {"object": "price", "unit_amount": 1000, "nickname": "Test", "active": True, **price}
        event = {"id": f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": kind,
                 "created": int(time.time()), "data": {"object": obj}}  # fmt: skip
        assert stack.deliver(event).status_code == 200
    stack.process()
    user = stack.signed_in(str(uuid.uuid4()))
    pro = {"price": "price_pro_monthly", "quantity": 1}
    cases: list[tuple[object, str]] = [
        (None, "items: "), ([], "items: "), ([pro] * 51, "items: "),
        ([pro, {"price": "price_nope", "quantity": 1}], "items[1].price: no such price"),
        ([pro, {"price": "price_gone", "quantity": 1}], "items[1].price: no such price"),
        ([pro, {"price": "price_eur", "quantity": 1}], "items[1].price: priced in eur"),
        ([{"price": "price_pro_monthly", "quantity": 0}], "items[0].quantity"),
        ([{"price": "price_pro_monthly", "quantity": 1.5}], "items[0].quantity"),
        ([{"price": "price_pro_monthly", "quantity": "2"}], "items[0].quantity"),
        ([{"price": "price_pro_monthly", "quantity": 10001}], "items[0].quantity"),
        ([{**pro, "unitAmount": 1}], "items[0]: only price, quantity and description"),
        ([{**pro, "description": "x" * 201}], "items[0].description"),
        (["price_pro_monthly"], "items[0].price"),
    ]  # fmt: skip
    before = stack.scalar("select count(*) from billing.quotes")
    for items, message in cases:
        answer = stack.quote(user, items)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "INVALID_INPUT"), items
        assert answer.json()["error"]["message"].startswith(message), answer.text
    unkeyed = httpx.post(f"{stack.url}/quote-processor", json={"items": [pro]}, headers=user,
                         timeout=30)  # fmt: skip
    assert unkeyed.status_code == 400
    assert stack.scalar("select count(*) from billing.quotes") == before
    assert stack.quote(user, [{"price": "price_eur", "quantity": 2}]).json()["total"] == 2000


def test_accepting_a_quote_makes_one_payment_intent_and_only_the_owner_can(stack: Stack) -> None:
    owner_id = str(uuid.uuid4())
    owner, stranger = stack.signed_in(owner_id), stack.signed_in(str(uuid.uuid4()))
    quote = stack.quote(owner, PRO_AND_SEATS).json()
    url = f"{stack.url}/quote-processor"
    # someone else's quote and no quote at all: one answer
    theirs = httpx.post(url, json={"accept": quote["id"]}, headers=stranger, timeout=30)
    absent = httpx.post(url, json={"accept": str(uuid.uuid4())}, headers=stranger, timeout=30)
    assert theirs.status_code == absent.status_code == 404
    assert theirs.json()["error"] == absent.json()["error"]
    assert httpx.get(url, params={"id": quote["id"]}, headers=stranger,
                     timeout=30).json()["error"] == absent.json()["error"]  # fmt: skip
    accepted = [httpx.post(url, json={"accept": quote["id"]}, headers=owner, timeout=30).json()
                for _ in range(2)]  # fmt: skip
    assert accepted[0]["status"] == accepted[1]["status"] == "accepted"
    assert accepted[0]["paymentIntentId"] == accepted[1]["paymentIntentId"]
    intent = next(i for i in stack.stripe.created.values()
                  if i["id"] == accepted[0]["paymentIntentId"])  # fmt: skip
    assert (intent["amount"], intent["metadata"]) == (
        quote["total"],
        {"quote_id": quote["id"], "user_id": owner_id},
    )
    assert accepted[0]["clientSecret"].startswith(intent["id"])
    # an expired quote is not paid, and Stripe is not asked
    expired = stack.quote(owner, PRO_AND_SEATS[:1]).json()
    stack.rows("update billing.quotes set valid_until = now() - interval '1 day' where id = %s "
               "returning 1", expired["id"])  # fmt: skip
    asked = len(stack.stripe.requests)
    late = httpx.post(url, json={"accept": expired["id"]}, headers=owner, timeout=30)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "CONFLICT")
    assert len(stack.stripe.requests) == asked
    assert httpx.get(url, params={"id": expired["id"]}, headers=owner,
                     timeout=30).json()["status"] == "expired"  # fmt: skip
    # Stripe down: 503, the quote stays open
    fresh = stack.quote(owner, PRO_AND_SEATS[:1]).json()
    since = stack.scalar("select now()")
    stack.stripe.fail = True
    try:
        down = httpx.post(url, json={"accept": fresh["id"]}, headers=owner, timeout=60)
    finally:
        stack.stripe.fail = False
    assert (down.status_code, down.json()["error"]["code"]) == (503, "PAYMENT_UNAVAILABLE")
    stack.forget_failures("quote-processor", since)
    assert stack.scalar("select status from billing.quotes where id = %s", fresh["id"]) == "open"


def test_a_quote_pdf_shows_the_quote_and_is_mailed_only_to_the_caller(stack: Stack) -> None:
    user = str(uuid.uuid4())
    owner = stack.signed_in(user, email="buyer@example.test")
    quote = stack.quote(owner, PRO_AND_SEATS).json()
    url = f"{stack.url}/quote-pdf-generator"
    pdf = httpx.get(url, params={"id": quote["id"]}, headers=owner, timeout=30)
    assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert quote["number"] in text and "$134.00" in text and "Seats for QA" in text
    # e-mailed to the token's address (a `to` in the body is not read); a retry mails once
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"quoteId": quote["id"], "email": True, "to": "someone@else.test"}
    sent = [httpx.post(url, json=body, headers={**owner, **key}, timeout=30) for _ in range(2)]
    assert [s.status_code for s in sent] == [202, 202]
    assert sent[0].json()["emailId"] == sent[1].json()["emailId"]
    message = stack.resend.sent[sent[0].json()["emailId"]]
    assert message["to"] == ["buyer@example.test"]
    attachment = base64.b64decode(message["attachments"][0]["content"])
    assert attachment.startswith(b"%PDF") and quote["number"] in "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(attachment)).pages)  # fmt: skip
    # no address in the token; someone else's quote; Resend down: nothing recorded
    nameless = httpx.post(url, json=body, headers=stack.signed_in(user), timeout=30)
    assert (nameless.status_code, nameless.json()["error"]["code"]) == (422, "NO_EMAIL")
    stranger = stack.signed_in(str(uuid.uuid4()), email="stranger@example.test")
    assert httpx.post(url, json=body, headers=stranger, timeout=30).status_code == 404
    assert httpx.get(url, params={"id": quote["id"]}, headers=stranger,
                     timeout=30).status_code == 404  # fmt: skip
    since = stack.scalar("select now()")
    stack.resend.fail = True
    try:
        failed = httpx.post(url, json=body, headers=owner, timeout=60)
    finally:
        stack.resend.fail = False
    assert failed.status_code == 502
    stack.forget_failures("quote-pdf-generator", since)
    assert stack.scalar("select count(*) from billing.quote_emails where quote_id = %s",
                        quote["id"]) == 1  # fmt: skip
    # the longest quote (50 items) runs onto a second page, every item on one, and mails too
    items = [{"price": "price_extra_seat", "quantity": 1, "description": f"Seat {n}"}
             for n in range(50)]  # fmt: skip
    longest = stack.quote(owner, items).json()
    pages = PdfReader(io.BytesIO(httpx.get(url, params={"id": longest["id"]}, headers=owner,
                                           timeout=30).content)).pages  # fmt: skip
    assert len(pages) == 2
    text = "".join(page.extract_text() for page in pages)
    assert all(f"Seat {n}\n" in text or f"Seat {n} " in text for n in range(50))
    mailed = httpx.post(url, json={"quoteId": longest["id"], "email": True}, headers=owner,
                        timeout=30)  # fmt: skip
    assert mailed.status_code == 202
