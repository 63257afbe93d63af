"""What a rollout reads and writes in the stack's database: its record
(``monitoring.flag_rollouts`` and ``flag_rollout_events``) and its gates (alert rules).

One rollout of a flag at a time: the process holds a session advisory lock for the flag as long
as it runs (a killed process releases it with its connection), and the table allows one
``running`` row per flag, which an interrupted rollout leaves behind for ``--resume``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import psycopg

from supastack.database.postgres import Connection, connect
from supastack.errors import SupastackError

LOCK_NAMESPACE = "supastack-rollout:"


@dataclass(frozen=True)
class RolloutRecord:
    id: int
    flag: str
    steps: tuple[Decimal, ...]
    hold: timedelta
    gates: tuple[str, ...]
    from_percentage: Decimal
    """The flag's percentage before the rollout."""
    step: int
    """The index of the step deployed last."""
    held: int
    """How many steps held."""


@dataclass(frozen=True)
class Gate:
    """An alert rule as a rollout sees it."""

    name: str
    state: str
    value: float | None
    comparison: str
    threshold: float

    @property
    def firing(self) -> bool:
        return self.state == "firing"

    def __str__(self) -> str:
        value = "no value yet" if self.value is None else f"{self.value:g}"
        return f"{self.name} ({self.state}: {value} {self.comparison} {self.threshold:g})"


class Records:
    """The rollout's connection: it holds the flag's lock and writes the record."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def running(self, flag: str) -> RolloutRecord | None:
        """The flag's interrupted rollout, if any."""
        row = self.conn.execute(
            "SELECT id, flag, steps, hold, gates, from_percentage, step, held "
            "FROM monitoring.flag_rollouts WHERE flag = %s AND state = 'running'",
            [flag],
        ).fetchone()
        if row is None:
            return None
        id_, flag, steps, hold, gates, from_percentage, step, held = row
        return RolloutRecord(
            id_, flag, tuple(steps), hold, tuple(gates), from_percentage, step, held
        )

    def start(
        self,
        flag: str,
        steps: Sequence[Decimal],
        hold: timedelta,
        gates: Sequence[str],
        from_percentage: Decimal,
    ) -> int:
        try:
            row = self.conn.execute(
                "INSERT INTO monitoring.flag_rollouts (flag, steps, hold, gates, from_percentage) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                [flag, list(steps), hold, list(gates), from_percentage],
            ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise SupastackError(
                f"a rollout of flag {flag!r} was interrupted; go on with it (--resume) rather "
                "than start another"
            ) from None
        assert row is not None
        self.event(row[0], "started", None, f"steps {', '.join(map(str, steps))}")
        return int(row[0])

    def event(self, rollout: int, kind: str, percentage: Decimal | None, detail: str) -> None:
        self.conn.execute(
            "INSERT INTO monitoring.flag_rollout_events (rollout, kind, percentage, detail) "
            "VALUES (%s, %s, %s, %s)",
            [rollout, kind, percentage, detail],
        )

    def reached(self, rollout: int, step: int, held: int, percentage: Decimal) -> None:
        self.conn.execute(
            "UPDATE monitoring.flag_rollouts SET step = %s, held = %s, percentage = %s "
            "WHERE id = %s",
            [step, held, percentage, rollout],
        )

    def finish(self, rollout: int, state: str, percentage: Decimal, reason: str) -> None:
        self.conn.execute(
            "UPDATE monitoring.flag_rollouts SET state = %s, percentage = %s, reason = %s, "
            "finished_at = now() WHERE id = %s",
            [state, percentage, reason, rollout],
        )

    def gates(self, names: Sequence[str], *, evaluate: bool) -> list[Gate]:
        """The rules' states, in ``names`` order, after evaluating them now when ``evaluate``
        (the same evaluation pg_cron runs every minute). Unknown names are left out."""
        if evaluate:
            self.conn.execute("SELECT monitoring.evaluate_alert_rules(%s)", [list(names)])
        rows = self.conn.execute(
            "SELECT name, state, last_value, comparison, threshold FROM monitoring.alert_rules "
            "WHERE name = ANY(%s)",
            [list(names)],
        ).fetchall()
        found = {row[0]: Gate(*row) for row in rows}
        return [found[name] for name in names if name in found]

    def rule_names(self) -> list[str]:
        rows = self.conn.execute("SELECT name FROM monitoring.alert_rules ORDER BY name")
        return [row[0] for row in rows.fetchall()]

    def notify(self, gate: str, summary: str) -> list[str]:
        """Tell the gate rule's channels; the channels told."""
        row = self.conn.execute("SELECT monitoring.notify_rollout(%s, %s)", [gate, summary])
        sent = row.fetchone()
        return list(sent[0]) if sent else []


@contextmanager
def exclusive(conninfo: str, flag: str) -> Iterator[Records]:
    """The flag's rollout lock, for as long as the block runs; refused at once when another
    process holds it."""
    with connect(conninfo, subject=f"rollout of flag {flag!r}") as conn:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", [LOCK_NAMESPACE + flag]
        ).fetchone()
        if not row or not row[0]:
            raise SupastackError(
                f"a rollout of flag {flag!r} is running now (another process holds its lock); "
                "wait for it, or stop it and resume with --resume"
            )
        yield Records(conn)
