"""The database's clock, moved by the tests, so that what depends on the date is tested on every
day of the week, on the first and last day of a month and of a year and on a leap day, whatever
day the suite runs. (The clusters keep the machine's time zone, UTC here as on Supabase, where a
daylight-saving change moves no date.)

Every test cluster runs under Debian's libfaketime, preloaded into the Postgres server only
(through the state directory's ``postgres.env``), which reads the clock's offset from a file
this module writes. The test process and the edge runtime keep the real clock (a JWT's expiry
stays real), so a date-sensitive test takes "today" from the database (``DatabaseClock.today``),
never from ``date.today()``. Moving the clock pauses the cluster's pg_cron jobs and puts both
back afterwards; each move waits until the server shows the new date (a condition, not a sleep).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from supastack.delivery.verify import stack_today
from supastack.local.system import LIBFAKETIME

#: The days a date-sensitive test runs on: a whole week, and the days where a date rolls over.
DAYS: dict[str, dt.date] = {
    "monday": dt.date(2027, 1, 4),
    "tuesday": dt.date(2027, 1, 5),
    "wednesday": dt.date(2027, 1, 6),
    "thursday": dt.date(2027, 1, 7),
    "friday": dt.date(2027, 1, 8),
    "saturday": dt.date(2027, 1, 9),
    "sunday": dt.date(2027, 1, 10),
    "month-end": dt.date(2027, 4, 30),
    "month-start": dt.date(2027, 3, 1),
    "year-end": dt.date(2027, 12, 31),
    "year-start": dt.date(2028, 1, 1),
    "leap-day": dt.date(2028, 2, 29),
}
#: A test's parameter ``day`` on each of DAYS (marked ``calendar``: ``pytest -m calendar``).
EACH_DAY = pytest.mark.parametrize(
    "day", [pytest.param(day, id=name, marks=pytest.mark.calendar) for name, day in DAYS.items()]
)
#: How long libfaketime keeps an offset it read (seconds). A server process reads the file
#: again at its first clock call once the real time's whole seconds since its last read exceed
#: this (libfaketime.c: ``tv_sec - last_data_fetch > cache_duration``), so every process, a
#: pooled connection's as much as a new one's, shows a move from the whole second CACHE_S + 1
#: after the one the file was written in (1 to 2 s later).
CACHE_S = 1
#: How long a move may take to show: libfaketime's cache, and a loaded machine.
WAIT_S = 10 * CACHE_S + 10
#: The time of day the clock is moved to, in the database's time zone.
NOON = dt.time(12, 0)


class DatabaseClock:
    """The clock of one test cluster (its state directory holds the offset file)."""

    def __init__(self, state_dir: Path) -> None:
        self.offset_file = state_dir / "clock-offset"

    def install(self, environment_file: Path) -> None:
        """Before the cluster starts: the real time, and the server told where to read it."""
        if not LIBFAKETIME.exists():  # else every move would time out, saying nothing of why
            raise RuntimeError(
                f"{LIBFAKETIME} is missing: the tests' clock needs Debian's libfaketime "
                "(./scripts/test installs it; apt-get install libfaketime)"
            )
        self.offset_file.parent.mkdir(parents=True, exist_ok=True)
        self._write(0)
        environment_file.write_text(
            f"LD_PRELOAD={LIBFAKETIME}\n"
            f"FAKETIME_TIMESTAMP_FILE={self.offset_file}\n"
            f"FAKETIME_CACHE_DURATION={CACHE_S}\n"
            # timeouts, latches and pg_cron's sleeps keep the real monotonic clock
            "FAKETIME_DONT_FAKE_MONOTONIC=1\n"
        )

    def _write(self, seconds: float) -> float:
        """The offset written; returns when (this process's time) every server process shows it."""
        self.offset_file.write_text(f"{seconds:+.0f}\n")
        self.offset_file.chmod(0o644)
        return math.floor(time.time()) + CACHE_S + 1  # read after the write: never early

    #: The database's date (what ``current_date`` is in its SQL): the stack's today.
    today = staticmethod(stack_today)

    @contextmanager
    def moved_to(self, day: dt.date, conninfo: str) -> Iterator[dt.date]:
        """The database at noon of ``day`` (in its time zone) until the block ends; pg_cron's
        active jobs are paused meanwhile, so nothing scheduled runs on the moved clock."""
        from tests.conftest import wait_until  # noqa: PLC0415 (conftest imports this module)

        with psycopg.connect(conninfo, autocommit=True) as conn:
            row = conn.execute(
                "select extract(epoch from (%s::date + %s::time)::timestamptz)", [day, NOON]
            ).fetchone()
            assert row is not None
            paused = _pause_cron(conn)
        try:
            shown = self._write(float(row[0]) - time.time())
            # a new connection's process starts from the postmaster's cached offset, so its
            # showing the day says nothing of a pool's older connection: that one by `shown`
            wait_until(lambda: self.today(conninfo) == day and time.time() >= shown,
                       timeout=WAIT_S, every=0.1)  # fmt: skip
            yield day
        finally:
            shown = self._write(0)
            wait_until(lambda: _skew(conninfo) < 60 and time.time() >= shown,
                       timeout=WAIT_S, every=0.1)  # fmt: skip
            with psycopg.connect(conninfo, autocommit=True) as conn:
                _resume_cron(conn, paused)


def _pause_cron(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    if conn.execute("select to_regclass('cron.job')").fetchone() in (None, (None,)):
        return []
    return [
        int(str(r[0]))
        for r in conn.execute("update cron.job set active = false where active returning jobid")
    ]


def _resume_cron(conn: psycopg.Connection[tuple[object, ...]], jobs: list[int]) -> None:
    if jobs:
        conn.execute("update cron.job set active = true where jobid = any(%s)", [jobs])


def _skew(conninfo: str) -> float:
    """Seconds between the database's clock and this process's."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("select extract(epoch from clock_timestamp())").fetchone()
    assert row is not None
    return abs(float(row[0]) - time.time())
