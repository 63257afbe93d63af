"""The bidding app, deployed by the program (offline harness) to a fresh local target: the
guide's verification steps, the RLS matrix, the rules under 50 concurrent bidders, and the
functions' answers."""

from __future__ import annotations

import itertools
import json
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from applier.engine import deploy
from supastack.local.credentials import sign_jwt
from tests.conftest import Services
from tests.e2e.conftest import As, local_config

TABLES = (
    "bidding_sessions",
    "bidding_participants",
    "bids",
    "bidding_results",
    "bidding_notifications",
)


@pytest.fixture(scope="module")
def stack(fresh: Services) -> Iterator[Services]:
    deploy(local_config(fresh))
    yield fresh


def _session(
    conn: psycopg.Connection[Any], owner: str, participants: list[str], **values: Any
) -> str:
    row = conn.execute(
        "insert into public.bidding_sessions (title, owner_id, starting_price, min_increment, "
        "ends_at) values (%s, %s, %s, %s, now() + %s::interval) returning session_id",
        [values.get("title", "lot"), owner, values.get("start", 100), values.get("increment", 10),
         values.get("ends_in", "1 hour")],
    ).fetchone()  # fmt: skip
    assert row is not None
    for user in participants:
        conn.execute(
            "insert into public.bidding_participants (session_id, user_id) values (%s, %s)",
            [row[0], user],
        )
    return str(row[0])


def _bid(conn: psycopg.Connection[Any], session: str, user: str, amount: float) -> None:
    conn.execute(
        "insert into public.bids (session_id, user_id, amount) values (%s, %s, %s)",
        [session, user, amount],
    )


@pytest.fixture(scope="module")
def matrix(stack: Services) -> dict[str, str]:
    """Owner O; A and B take part in an open session and a closed one A won; C in none."""
    people = {name: str(uuid.uuid4()) for name in "OABC"}
    with stack.connect() as conn:
        open_session = _session(conn, people["O"], [people["A"], people["B"]])
        _bid(conn, open_session, people["A"], 100)
        _bid(conn, open_session, people["B"], 110)
        won = _session(conn, people["O"], [people["A"], people["B"]])
        _bid(conn, won, people["A"], 100)
        conn.execute("select public.close_session(%s)", [won])
    return {**people, "open": open_session, "won": won}


DENIED = "42501"


def test_rls_matrix_select(stack: Services, matrix: dict[str, str]) -> None:
    a, c = As(stack, "authenticated", matrix["A"]), As(stack, "authenticated", matrix["C"])
    anon, service = As(stack, "anon"), As(stack, "service_role")
    count = "select count(*) from public.{}"
    for table in TABLES:
        assert anon.run(count.format(table)) == DENIED, table  # anon reads nothing at all
        assert c.run(count.format(table)) == [(0,)], table  # a non-participant sees no rows
    assert a.run(count.format("bidding_sessions")) == [(2,)]
    assert a.run("select user_id::text from public.bidding_participants") == [(matrix["A"],)] * 2
    assert sorted(
        a.run("select amount from public.bids where session_id = %s", [matrix["open"]])
    ) == [(Decimal("100.00"),), (Decimal("110.00"),)]
    assert a.run("select winner_id::text from public.bidding_results") == [(matrix["A"],)]
    notified = a.run("select distinct user_id::text from public.bidding_notifications")
    assert notified == [(matrix["A"],)]
    owner = As(stack, "authenticated", matrix["O"])
    assert owner.run(count.format("bidding_sessions")) == [(2,)]  # the owner sees their sessions
    total = service.run(count.format("bids"))
    assert isinstance(total, list) and total[0][0] >= 3  # the service role sees everything


def test_rls_matrix_insert_update_delete(stack: Services, matrix: dict[str, str]) -> None:
    a = As(stack, "authenticated", matrix["A"])
    c = As(stack, "authenticated", matrix["C"])
    insert = (
        "insert into public.bids (session_id, user_id, amount, is_auto) values (%s, %s, %s, %s)"
    )
    assert a.run(insert, [matrix["open"], matrix["A"], 500, False]) == []  # as themselves: fine
    # as someone else, or not a participant: refused before anything about the session is read
    assert a.run(insert, [matrix["open"], matrix["B"], 600, False]) == "BD404"
    assert c.run(insert, [matrix["open"], matrix["C"], 700, False]) == "BD404"
    assert a.run(insert, [matrix["open"], matrix["A"], 600, True]) == DENIED  # faking an auto-bid
    # submit-bid's call places a bid as the user it is given: the backend's, never the API's
    place = "select * from public.place_bid(%s, %s, %s)"
    assert a.run(place, [matrix["open"], matrix["B"], 650]) == DENIED
    assert As(stack, "anon").run(place, [matrix["open"], matrix["B"], 650]) == DENIED
    assert a.run("update public.bids set amount = 1 where user_id = %s", [matrix["B"]]) == DENIED
    assert a.run("update public.bids set amount = 1 where user_id = %s", [matrix["A"]]) == DENIED
    assert a.run("delete from public.bids where user_id = %s", [matrix["A"]]) == DENIED
    for table, values in (
        (
            "bidding_sessions",
            "(title, owner_id, starting_price, min_increment, ends_at) "
            "values ('x', gen_random_uuid(), 1, 1, now() + interval '1 day')",
        ),
        (
            "bidding_participants",
            f"(session_id, user_id) values ('{matrix['open']}', '{matrix['C']}')",
        ),
        ("bidding_results", f"(session_id) values ('{matrix['open']}')"),
        (
            "bidding_notifications",
            f"(user_id, session_id, kind) values ('{matrix['A']}', '{matrix['open']}', 'won')",
        ),
    ):
        # the test's own tables and uuids, no outside input
        assert a.run(f"insert into public.{table} {values}") == DENIED, table
        assert a.run(f"delete from public.{table}") == DENIED, table  # noqa: S608
    service = As(stack, "service_role")
    assert service.run("update public.bids set amount = 1") == "BD409"  # immutable for anyone


def test_bid_errors_disclose_nothing_about_sessions_the_caller_cannot_read(
    stack: Services, matrix: dict[str, str]
) -> None:
    """The bidding rules run before RLS's check: for a session C cannot read, whatever C tries
    (below the minimum, as a participant, a closed session) gets the answer a session that does
    not exist gets: not its price, its state, nor who takes part (the audit got all three)."""
    c = As(stack, "authenticated", matrix["C"])
    insert = "insert into public.bids (session_id, user_id, amount) values (%s, %s, %s)"
    missing = str(uuid.uuid4())
    answers = set()
    for session, user, amount in [
        (matrix["open"], matrix["C"], 1), (matrix["open"], matrix["A"], 1),
        (matrix["open"], matrix["A"], 10_000), (matrix["won"], matrix["C"], 10_000),
        (missing, matrix["C"], 1), (missing, matrix["A"], 10_000),
    ]:  # fmt: skip
        outcome = c.outcome(insert, [session, user, amount])
        assert isinstance(outcome, tuple), outcome
        answers.add((outcome[0], outcome[1].replace(session, "<id>")))
    assert answers == {("BD404", "no bidding session <id> that you take part in")}
    # nor read the platform's bid count from the identity sequence
    for role in ("anon", "authenticated"):
        assert As(stack, role).run("select last_value from public.bids_bid_id_seq") == DENIED
    # nor can an API role call the backend's SECURITY DEFINER functions with another user's id
    for call in ("select public.set_auto_bid(%s, %s, 10000)", "select public.close_session(%s)"):
        params = [matrix["open"], matrix["A"]][: call.count("%s")]
        assert c.run(call, params) == DENIED


def test_the_rules_hold_under_50_concurrent_bidders(stack: Services) -> None:
    bidders = [str(uuid.uuid4()) for _ in range(50)]
    ceilings = {user: 400 + 10 * i for i, user in enumerate(bidders[:10])}
    with stack.connect() as conn:
        session = _session(conn, str(uuid.uuid4()), bidders, start=100, increment=5)
        for user, ceiling in ceilings.items():
            conn.execute("select public.set_auto_bid(%s, %s, %s)", [session, user, ceiling])
    barrier = threading.Barrier(50)

    def bid(user: str) -> None:
        rng = random.Random(user)  # noqa: S311 (test data, not a secret)
        with psycopg.connect(stack.dsn(), autocommit=True) as conn:
            barrier.wait()
            for _ in range(8):
                row = conn.execute(
                    "select current_price from public.bidding_sessions where session_id = %s",
                    [session],
                ).fetchone()
                price = float(row[0]) if row and row[0] is not None else 100.0
                try:
                    _bid(conn, session, user, price + 5 + rng.choice([0, 0, 5, 20]))
                except psycopg.errors.RaiseException:
                    pass  # outbid meanwhile: BD422, as a user would see
                except psycopg.Error as exc:
                    if exc.sqlstate != "BD422":
                        raise

    threads = [threading.Thread(target=bid, args=(user,)) for user in bidders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with stack.connect() as conn:
        bids: list[tuple[Any, ...]] = conn.execute(
            # created_at is stamped under the session lock: the order bids took effect
            "select user_id::text, amount, is_auto from public.bids where session_id = %s "
            "order by created_at, bid_id",
            [session],
        ).fetchall()
        current, leader = conn.execute(
            "select current_price, leader_id::text from public.bidding_sessions "
            "where session_id = %s",
            [session],
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            "update public.bidding_sessions set ends_at = now() - interval '1 second', "
            "starts_at = now() - interval '1 hour' where session_id = %s",
            [session],
        )
        conn.execute("select public.close_expired_sessions()")
        winners = conn.execute(
            "select r.winner_id::text, r.amount, b.amount from public.bidding_results r "
            "join public.bids b on b.bid_id = r.winning_bid_id where r.session_id = %s",
            [session],
        ).fetchall()
    amounts = [b[1] for b in bids]
    assert len(bids) > 50
    assert all(later >= earlier + 5 for earlier, later in itertools.pairwise(amounts))
    assert (current, leader) == (amounts[-1], bids[-1][0])  # one leader: the last, highest bid
    assert all(b[1] <= ceilings[b[0]] for b in bids if b[2])  # auto-bids never pass their ceiling
    assert winners == [(leader, current, current)]  # one winner, at the final price, its bid


@pytest.fixture(scope="module")
def functions(stack: Services) -> dict[str, Any]:
    """A user token maker, an open and a closed session, and the job secret from Vault."""
    with stack.connect() as conn:
        job_secret = conn.execute(
            "select decrypted_secret from vault.decrypted_secrets where name = 'JOB_SECRET'"
        ).fetchone()
    assert job_secret is not None

    def token(user: str) -> dict[str, str]:
        claims: dict[str, object] = {"role": "authenticated", "sub": user}
        return {"Authorization": f"Bearer {sign_jwt(stack.credentials.jwt_secret, claims)}"}

    return {"token": token, "job": job_secret[0], "url": f"{stack.runtime_url}/functions/v1"}


def test_submit_bid_answers_and_refuses(stack: Services, functions: dict[str, Any]) -> None:
    url, token = f"{functions['url']}/submit-bid", functions["token"]
    alice, bob, carol = (str(uuid.uuid4()) for _ in range(3))
    with stack.connect() as conn:
        session = _session(conn, str(uuid.uuid4()), [alice, bob])
        closed = _session(conn, str(uuid.uuid4()), [alice])
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
        session = _session(conn, str(uuid.uuid4()), [alice, str(uuid.uuid4())])
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
        closed = _session(conn, str(uuid.uuid4()), [member])
        conn.execute(
            "update public.bidding_sessions set status = 'closed' where session_id = %s", [closed]
        )
        open_ = _session(conn, str(uuid.uuid4()), [member])
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
        session = _session(conn, str(uuid.uuid4()), [user])
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
        session = _session(conn, str(uuid.uuid4()), [alice, bob], start=100, increment=10)
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
        session = _session(conn, str(uuid.uuid4()), [alice, bob], start=100, increment=10)
        _bid(conn, session, alice, 200)
    answer = httpx.post(
        f"{functions['url']}/set-auto-bid",
        headers=functions["token"](bob),
        json={"sessionId": session, "maxAmount": 260},
    )
    assert answer.status_code == 200 and answer.json()["leaderId"] == bob
    assert answer.json()["currentPrice"] == 210
    with stack.connect() as conn:
        _bid(conn, session, alice, 300)  # beyond bob's ceiling: he cannot answer
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
        ended = _session(conn, str(uuid.uuid4()), [alice])
        _bid(conn, ended, alice, 120)
        conn.execute(
            "update public.bidding_sessions set starts_at = now() - interval '2 hours', "
            "ends_at = now() - interval '1 minute' where session_id = %s",
            [ended],
        )
        ending = _session(conn, str(uuid.uuid4()), [alice], ends_in="3 minutes")
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
