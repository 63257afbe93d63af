"""The RLS matrix (select, insert, update, delete), errors that disclose nothing, and the
bidding rules under 50 concurrent bidders."""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from decimal import Decimal
from typing import Any

import psycopg

from tests.conftest import Services
from tests.e2e.bidding.deployed import DENIED, TABLES, insert_bid, new_session
from tests.e2e.conftest import As


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
        session = new_session(conn, str(uuid.uuid4()), bidders, start=100, increment=5)
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
                    insert_bid(conn, session, user, price + 5 + rng.choice([0, 0, 5, 20]))
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
