"""The tests' own clock (tests/clock.py) against a real cluster: a move reaches every server
process, one a pool opened before it (as a function's pool keeps its connections) included, and
so does its undoing; else a function could answer on the old date. How long a process keeps
the old offset depends on when it last read it (to the second), so this checks the property
at the timing it meets, not the worst case tests/clock.py waits out."""

from __future__ import annotations

import datetime as dt

import psycopg

from tests.clock import DAYS
from tests.conftest import Services


def _today(conn: psycopg.Connection[tuple[object, ...]]) -> dt.date:
    row = conn.execute("select current_date").fetchone()
    assert row is not None and isinstance(row[0], dt.date)
    return row[0]


def test_a_move_and_its_undoing_reach_a_connection_opened_before_them(services: Services) -> None:
    day = DAYS["leap-day"]
    with services.connect() as pooled:
        _today(pooled)  # its server process has read the clock's offset: it holds it a while
        with services.clock.moved_to(day, services.dsn()):
            assert _today(pooled) == day
        assert _today(pooled) == services.clock.today(services.dsn())
