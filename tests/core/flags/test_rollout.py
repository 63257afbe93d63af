"""`supastack rollout`'s core against the real cluster: its record, its gates (real alert rules
evaluated by monitoring.evaluate_alert_rules over invocation rows), going back when a gate
fires, resuming after an interruption, one rollout of a flag at a time. The stack update is a
recording stand-in here (tests/e2e/test_rollout.py runs real ones), and time is a fake clock
that the rollout's own waits advance: a 15-minute hold takes no time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from supastack.database.postgres import connect
from supastack.errors import SupastackError
from supastack.flags import records as flag_records
from supastack.flags.rollout import Outcome, Rollout, RolloutPlan, parse_steps
from supastack.operations import alerts
from tests.core.conftest import Database

FN = "checkout"
GATE = "checkout-errors"


@dataclass
class FakeStack:
    """Stands in for the stack update: records each percentage; from ``failing_at`` on, the
    function answers 500 to half its calls (as a broken release would)."""

    conninfo: str
    failing_at: Decimal | None = None
    broken_at: Decimal | None = None
    interrupt_at: Decimal | None = None
    deployed: list[Decimal] = field(default_factory=list)

    def __call__(self, percentage: Decimal, message: str) -> None:
        if percentage == self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt  # the process is stopped mid-way
        if percentage == self.broken_at:
            raise SupastackError("the stack update (pulumi up) exited 255")
        self.deployed.append(percentage)
        failing = self.failing_at is not None and percentage >= self.failing_at
        with connect(self.conninfo) as conn:
            conn.execute(
                "insert into monitoring.function_invocations (function_name, status, duration_ms, "
                "request_id) select %s, case when %s and n %% 2 = 0 then 500 else 200 end, 5, "
                "n::text from generate_series(1, 20) n",
                [FN, failing],
            )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def gate(monitoring: Database) -> str:
    alerts.put_rule(
        monitoring.conninfo,
        alerts.Rule(GATE, "critical", f"SELECT monitoring.function_error_rate('{FN}', $1)", ">",
                    0.2, "1 hour", "0", "1 hour", ()),
    )  # fmt: skip
    return GATE


PLAN = RolloutPlan("test", "new_checkout", parse_steps("5,25,100"), timedelta(minutes=15), (GATE,),
                   timedelta(seconds=30))  # fmt: skip


def _run(
    monitoring: Database, stack: FakeStack, resume: bool = False, current: Decimal = Decimal(0)
) -> Any:
    clock = FakeClock()
    with flag_records.exclusive(monitoring.conninfo, PLAN.flag) as records:
        rollout = Rollout(PLAN, records, stack, report=lambda _: None, clock=clock,
                          wait=clock.wait)  # fmt: skip
        interrupted = records.running(PLAN.flag)
        if resume:
            assert interrupted is not None
            return rollout.resume(interrupted)
        return rollout.start(current)


def _record(monitoring: Database) -> tuple[Any, ...]:
    with monitoring.connect() as conn:
        row = conn.execute(
            "select state, percentage, step, held, reason from monitoring.flag_rollouts "
            "order by id desc limit 1"
        ).fetchone()
        assert row is not None
        return row


def _events(monitoring: Database) -> list[tuple[str, Decimal | None]]:
    with monitoring.connect() as conn:
        return conn.execute(  # type: ignore[return-value]
            "select kind, percentage from monitoring.flag_rollout_events order by id"
        ).fetchall()


def test_healthy_gates_take_the_flag_to_the_last_step(monitoring: Database, gate: str) -> None:
    stack = FakeStack(monitoring.conninfo)
    result = _run(monitoring, stack)
    assert (result.outcome, result.percentage) == (Outcome.COMPLETED, Decimal(100))
    assert stack.deployed == [5, 25, 100]
    assert _record(monitoring)[:4] == ("completed", 100, 2, 3)
    assert [kind for kind, _ in _events(monitoring)] == [
        "started", "deployed", "held", "deployed", "held", "deployed", "held", "completed",
    ]  # fmt: skip


def test_a_gate_firing_in_step_two_sets_the_flag_back_to_step_one(
    monitoring: Database, gate: str
) -> None:
    stack = FakeStack(monitoring.conninfo, failing_at=Decimal(25))
    result = _run(monitoring, stack)
    assert (result.outcome, result.percentage) == (Outcome.ROLLED_BACK, Decimal(5))
    assert stack.deployed == [5, 25, 5]  # back to the step that held
    state, percentage, step, held, reason = _record(monitoring)
    assert (state, percentage, step, held) == ("rolled_back", 5, 1, 1)
    assert f"gate {GATE} (firing: 0.25 > 0.2) fired" in reason
    assert "back to 5 %" in reason
    assert _events(monitoring)[-2:] == [("gate_fired", Decimal(25)), ("rolled_back", Decimal(5))]
    assert monitoring.scalar("select state from monitoring.alert_rules where name = %s", GATE) == (
        "firing"
    )


def test_a_gate_firing_in_step_one_sets_the_flag_back_to_zero(
    monitoring: Database, gate: str
) -> None:
    stack = FakeStack(monitoring.conninfo, failing_at=Decimal(5))
    result = _run(monitoring, stack)
    assert (result.outcome, result.percentage) == (Outcome.ROLLED_BACK, Decimal(0))
    assert stack.deployed == [5, 0]


def test_a_failed_stack_update_sets_the_flag_back_and_says_why(
    monitoring: Database, gate: str
) -> None:
    stack = FakeStack(monitoring.conninfo, broken_at=Decimal(25))
    result = _run(monitoring, stack)
    assert (result.outcome, stack.deployed) == (Outcome.FAILED, [Decimal(5), Decimal(5)])
    assert "the stack update failed: the stack update (pulumi up) exited 255" in result.reason
    assert _record(monitoring)[0] == "failed"


def test_an_interrupted_rollout_resumes_from_the_step_it_reached(
    monitoring: Database, gate: str
) -> None:
    stack = FakeStack(monitoring.conninfo, interrupt_at=Decimal(25))
    with pytest.raises(KeyboardInterrupt):
        _run(monitoring, stack)
    assert _record(monitoring)[:4] == ("running", 25, 1, 1)  # step 2 reached, step 1 held
    with (
        pytest.raises(SupastackError, match="rollout of flag 'new_checkout' was interrupted"),
        flag_records.exclusive(monitoring.conninfo, PLAN.flag) as records,
    ):
        Rollout(PLAN, records, stack, report=print).start(Decimal(0))  # not a second one
    result = _run(monitoring, stack, resume=True)
    assert result.outcome == Outcome.COMPLETED
    assert stack.deployed == [5, 25, 100]
    assert ("resumed", None) in _events(monitoring)


def test_one_rollout_of_a_flag_at_a_time(monitoring: Database) -> None:
    with flag_records.exclusive(monitoring.conninfo, "new_checkout"):
        with (
            pytest.raises(SupastackError, match="a rollout of flag 'new_checkout' is running now"),
            flag_records.exclusive(monitoring.conninfo, "new_checkout"),
        ):
            pass
        with flag_records.exclusive(monitoring.conninfo, "another_flag"):
            pass  # other flags roll out meanwhile


def test_a_resumed_rollout_whose_first_step_fails_goes_back_to_where_it_started(
    monitoring: Database, gate: str
) -> None:
    """The stack file already says 5 % when step 1 was interrupted; the rollout started at 2 %."""
    stack = FakeStack(monitoring.conninfo, interrupt_at=Decimal(5))
    with pytest.raises(KeyboardInterrupt):
        _run(monitoring, stack, current=Decimal(2))
    stack.failing_at = Decimal(5)
    result = _run(monitoring, stack, resume=True)
    assert (result.outcome, result.percentage) == (Outcome.ROLLED_BACK, Decimal(2))
    assert stack.deployed == [5, 2]
