"""The bidding app's tables, and sessions and bids written as their owners would."""

from __future__ import annotations

from typing import Any

import psycopg

TABLES = (
    "bidding_sessions",
    "bidding_participants",
    "bids",
    "bidding_results",
    "bidding_notifications",
)


def new_session(
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


def insert_bid(conn: psycopg.Connection[Any], session: str, user: str, amount: float) -> None:
    conn.execute(
        "insert into public.bids (session_id, user_id, amount) values (%s, %s, %s)",
        [session, user, amount],
    )


DENIED = "42501"
