"""submit-bid's and set-auto-bid's answers and refusals, retries at once, rate limits, and the
jobs' secret."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import Services
from tests.e2e.bidding.deployed import insert_bid, new_session


def test_submit_bid_answers_and_refuses(stack: Services, functions: dict[str, Any]) -> None:
    url, token = f"{functions['url']}/submit-bid", functions["token"]
    alice, bob, carol = (str(uuid.uuid4()) for _ in range(3))
    with stack.connect() as conn:
        session = new_session(conn, str(uuid.uuid4()), [alice, bob])
        closed = new_session(conn, str(uuid.uuid4()), [alice])
        conn.execute(
            "update public.bidding_sessions set status = 'closed' where session_id = %s", [closed]
        )

    placed = httpx.post(url, headers=token(alice), json={"sessionId": session, "amount": 150})
    assert placed.status_code == 201 and placed.json()["leading"] is True
    cases = [
        ({}, {"sessionId": session, "amount": 200}, 401, None),
        (token(bob), None, 400, "BAD_JSON"),
        (token(bob), {"sessionId": session, "amount": 155}, 422, "BELOW_MINIMUM"),
        (token(bob), {"sessionId": "not-a-uuid", "amount": 200}, 422, "INVALID_INPUT"),
        (token(alice), {"sessionId": closed, "amount": 500}, 409, "SESSION_CLOSED"),
        (token(carol), {"sessionId": session, "amount": 500}, 404, "SESSION_NOT_FOUND"),
        (token(bob), {"sessionId": str(uuid.uuid4()), "amount": 500}, 404, "SESSION_NOT_FOUND"),
        # a validly signed token whose subject is no user id: malformed identity, not our fault
        (token("not-a-uuid"), {"sessionId": session, "amount": 500}, 401, "UNAUTHORIZED"),
        (token(bob), {"sessionId": session, "pad": "x" * 2_000_000}, 413, "PAYLOAD_TOO_LARGE"),
    ]
    for headers, body, status, code in cases:
        content = b"{broken" if body is None else json.dumps(body).encode()
        answer = httpx.post(
            url, headers={**headers, "content-type": "application/json"}, content=content
        )
        assert answer.status_code == status, (body, answer.text)
        if code:
            assert answer.json()["error"]["code"] == code


def test_ten_retries_of_one_bid_at_once_place_it_once(
    stack: Services, functions: dict[str, Any]
) -> None:
    """The same bid sent ten times together (a client retrying): one is placed; the others
    meet the price it set and are refused as below the minimum, never a server error."""
    url, token = f"{functions['url']}/submit-bid", functions["token"]
    alice = str(uuid.uuid4())
    with stack.connect() as conn:
        session = new_session(conn, str(uuid.uuid4()), [alice, str(uuid.uuid4())])
    barrier = threading.Barrier(10)

    def place() -> httpx.Response:
        barrier.wait()  # released together
        return httpx.post(url, headers=token(alice), json={"sessionId": session, "amount": 150},
                          timeout=30)  # fmt: skip

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: place(), range(10)))
    assert sorted(a.status_code for a in answers) == [201] + [422] * 9, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 422} == {
        "BELOW_MINIMUM"}  # fmt: skip
    with stack.connect() as conn:
        placed = conn.execute(
            "select count(*), max(amount) from public.bids where session_id = %s", [session]
        ).fetchone()
    assert placed is not None and (placed[0], str(placed[1])) == (1, "150.00")


def test_functions_answer_absent_and_not_yours_alike(
    stack: Services, functions: dict[str, Any]
) -> None:
    """submit-bid and set-auto-bid: a session the caller takes no part in and one that does not
    exist get the same status, code and message (but for the id the caller sent)."""
    member = str(uuid.uuid4())
    with stack.connect() as conn:
        closed = new_session(conn, str(uuid.uuid4()), [member])
        conn.execute(
            "update public.bidding_sessions set status = 'closed' where session_id = %s", [closed]
        )
        open_ = new_session(conn, str(uuid.uuid4()), [member])
    for slug, amount_key in (("submit-bid", "amount"), ("set-auto-bid", "maxAmount")):
        answers = set()
        for session in (open_, closed, str(uuid.uuid4())):
            for amount in (0.5, 100_000):
                outsider = str(uuid.uuid4())  # one each: the functions limit calls per user
                answer = httpx.post(
                    f"{functions['url']}/{slug}", headers=functions["token"](outsider),
                    json={"sessionId": session, amount_key: amount},
                )  # fmt: skip
                error = answer.json()["error"]
                answers.add(
                    (answer.status_code, error["code"], error["message"].replace(session, "<id>"))
                )
        assert answers == {
            (404, "SESSION_NOT_FOUND", "no bidding session <id> that you take part in")
        }, slug


def test_rate_limits_of_submit_bid_and_set_auto_bid(
    stack: Services, functions: dict[str, Any]
) -> None:
    user = str(uuid.uuid4())
    with stack.connect() as conn:
        session = new_session(conn, str(uuid.uuid4()), [user])
    headers = functions["token"](user)
    bid_statuses = [
        httpx.post(
            f"{functions['url']}/submit-bid",
            headers=headers,
            json={"sessionId": session, "amount": 1000 + 10 * i},
        ).status_code
        for i in range(11)
    ]
    assert bid_statuses == [201] * 10 + [429]
    auto_statuses = [
        httpx.post(
            f"{functions['url']}/set-auto-bid",
            headers=headers,
            json={"sessionId": session, "maxAmount": 5000 + i},
        ).status_code
        for i in range(6)
    ]
    assert auto_statuses == [200] * 5 + [429]


def test_a_bid_is_answered_with_the_session_its_auto_bids_left(
    stack: Services, functions: dict[str, Any]
) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    with stack.connect() as conn:
        session = new_session(conn, str(uuid.uuid4()), [alice, bob], start=100, increment=10)
        conn.execute("select public.set_auto_bid(%s, %s, 500)", [session, bob])
    placed = httpx.post(f"{functions['url']}/submit-bid", headers=functions["token"](alice),
                        json={"sessionId": session, "amount": 200})  # fmt: skip
    # bob's auto-bid answered alice's bid before the answer was made
    assert placed.status_code == 201
    assert (placed.json()["currentPrice"], placed.json()["leading"]) == (210, False)


def test_set_auto_bid_answers_at_once_within_its_ceiling(
    stack: Services, functions: dict[str, Any]
) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    with stack.connect() as conn:
        session = new_session(conn, str(uuid.uuid4()), [alice, bob], start=100, increment=10)
        insert_bid(conn, session, alice, 200)
    answer = httpx.post(
        f"{functions['url']}/set-auto-bid",
        headers=functions["token"](bob),
        json={"sessionId": session, "maxAmount": 260},
    )
    assert answer.status_code == 200 and answer.json()["leaderId"] == bob
    assert answer.json()["currentPrice"] == 210
    with stack.connect() as conn:
        insert_bid(conn, session, alice, 300)  # beyond bob's ceiling: he cannot answer
        leader = conn.execute(
            "select leader_id::text, current_price from public.bidding_sessions "
            "where session_id = %s",
            [session],
        ).fetchone()
    assert leader == (alice, Decimal("300.00"))


def test_the_jobs_run_with_the_job_secret_only(stack: Services, functions: dict[str, Any]) -> None:
    job = {"Authorization": f"Bearer {functions['job']}"}
    alice = str(uuid.uuid4())
    with stack.connect() as conn:
        ended = new_session(conn, str(uuid.uuid4()), [alice])
        insert_bid(conn, ended, alice, 120)
        conn.execute(
            "update public.bidding_sessions set starts_at = now() - interval '2 hours', "
            "ends_at = now() - interval '1 minute' where session_id = %s",
            [ended],
        )
        ending = new_session(conn, str(uuid.uuid4()), [alice], ends_in="3 minutes")
    assert httpx.post(f"{functions['url']}/session-cleanup").status_code == 401
    assert (
        httpx.post(
            f"{functions['url']}/session-cleanup", headers=functions["token"](alice)
        ).status_code
        == 401
    )
    cleaned = httpx.post(f"{functions['url']}/session-cleanup", headers=job)
    assert cleaned.status_code == 200 and cleaned.json()["closed"] >= 1
    warned = httpx.post(f"{functions['url']}/expiration-warnings", headers=job)
    assert warned.status_code == 200 and warned.json()["warned"] >= 1
    with stack.connect() as conn:
        conn.execute(
            "update public.bidding_sessions set closed_at = now() - interval '31 days' "
            "where session_id = %s",
            [ended],
        )
    archived = httpx.post(f"{functions['url']}/archive-sessions", headers=job)
    assert archived.status_code == 200 and archived.json()["archived"] >= 1
    with stack.connect() as conn:
        kinds = conn.execute(
            "select session_id::text, kind from public.bidding_notifications "
            "where user_id = %s order by 1, 2",
            [alice],
        ).fetchall()
        result = conn.execute(
            "select winner_id::text, amount, payment_status from public.bidding_results "
            "where session_id = %s",
            [ended],
        ).fetchone()
    assert (ended, "won") in kinds and (ending, "ending_soon") in kinds
    assert result == (alice, Decimal("120.00"), "pending")
