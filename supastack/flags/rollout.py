"""``supastack rollout``: step a flag's percentage up, holding each step while gate rules watch,
and set it back to the last step that held when one fires.

Each step is a stack update (the flag's entry in the stack file changed, then ``pulumi up``, or
the offline applier on local), so the stack's history shows every step and rolling the stack
back to an earlier update restores the flag as it was there. During a hold the rollout
evaluates its gate rules every ``poll`` (the same evaluation pg_cron runs every minute, so a
gate fires within ``poll`` rather than within a minute); a gate that fires sets the percentage
back to the last step that held (0 when none did), records why, tells the rule's channels, and
the rollout ends with a non-zero exit. Everything it does is recorded in
``monitoring.flag_rollouts`` and ``flag_rollout_events``; an interrupted rollout resumes from
the step it reached (``--resume``), holding that step again in full.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol

from supastack.errors import SupastackError
from supastack.flags.records import Gate, Records, RolloutRecord
from supastack.flags.specs import PERCENT_PLACES

_HOLD = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_hold(text: str, option: str = "--hold") -> timedelta:
    """``15m``, ``1h30m``, ``45s`` (at least one second)."""
    match = _HOLD.match(text.strip())
    if not text.strip() or match is None:
        raise SupastackError(f"{option} {text!r}: not a duration such as 15m, 1h30m or 45s")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    held = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if held < timedelta(seconds=1):
        raise SupastackError(f"{option} {text!r}: at least one second")
    return held


def parse_steps(text: str) -> tuple[Decimal, ...]:
    """``5,25,50,100``: rising percentages above 0, at most 100, two decimals at most."""
    steps = []
    for part in text.split(","):
        try:
            value = Decimal(part.strip())
        except InvalidOperation:
            raise SupastackError(f"--steps {text!r}: {part.strip()!r} is not a number") from None
        if not 0 < value <= 100 or value != value.quantize(PERCENT_PLACES):
            raise SupastackError(
                f"--steps {text!r}: {part.strip()} is not a percentage above 0 and at most 100 "
                "(two decimals at most)"
            )
        steps.append(value.quantize(PERCENT_PLACES))
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise SupastackError(f"--steps {text!r}: each step must be above the one before")
    return tuple(steps)


@dataclass(frozen=True)
class RolloutPlan:
    stack: str
    flag: str
    steps: tuple[Decimal, ...]
    hold: timedelta
    gates: tuple[str, ...]
    poll: timedelta = timedelta(seconds=15)

    def message(self, index: int) -> str:
        """The stack update's message for step ``index``."""
        return (
            f"rollout {self.flag}: step {index + 1}/{len(self.steps)}, "
            f"{self.steps[index].normalize():f} %"
        )

    def describe(self, current: Decimal, gates: Sequence[Gate]) -> list[str]:
        """What the rollout will do (``--dry-run``)."""
        found = {g.name for g in gates}
        lines = [
            f"rollout of flag {self.flag} on stack {self.stack} (now {current.normalize():f} %):",
            *(
                f"  step {i + 1}: {self.message(i)} (a stack update), then hold {self.hold}"
                for i in range(len(self.steps))
            ),
            "  gates, evaluated every "
            f"{self.poll.total_seconds():g} s during each hold (any firing rolls back to the "
            "last step that held, 0 % before the first):",
            *(f"    {gate}" for gate in gates),
            *(
                f"    {name} (NOT FOUND: no such alert rule)"
                for name in self.gates
                if name not in found
            ),
        ]
        return lines


def choose_plan(
    stack: str,
    flag: str,
    interrupted: RolloutRecord | None,
    *,
    resume: bool,
    steps: str | None,
    hold: str,
    gates: Sequence[str],
    poll: str,
) -> RolloutPlan:
    """The plan from the command line, or the interrupted rollout's own when resuming (whose
    steps the command line may repeat, not change)."""
    if resume and interrupted is None:
        raise SupastackError(f"flag {flag!r} has no interrupted rollout to resume")
    if interrupted is not None and not resume:
        raise SupastackError(
            f"rollout #{interrupted.id} of flag {flag!r} was interrupted at step "
            f"{interrupted.step + 1} of {len(interrupted.steps)}; go on with --resume"
        )
    every = parse_hold(poll, "--poll")
    if interrupted is not None:
        if steps is not None and parse_steps(steps) != interrupted.steps:
            raise SupastackError(
                f"--steps {steps}: rollout #{interrupted.id} resumes with its own steps "
                f"({','.join(f'{s.normalize():f}' for s in interrupted.steps)})"
            )
        return RolloutPlan(
            stack, flag, interrupted.steps, interrupted.hold, interrupted.gates, every
        )
    if steps is None:
        raise SupastackError("--steps is required (e.g. --steps 5,25,50,100)")
    return RolloutPlan(
        stack, flag, parse_steps(steps), parse_hold(hold), tuple(dict.fromkeys(gates)), every
    )


class Outcome(StrEnum):
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


@dataclass
class Result:
    outcome: Outcome
    percentage: Decimal
    reason: str = ""


class StackUpdate(Protocol):
    """Sets the flag's percentage in the stack file and updates the stack (raising a
    SupastackError when the update fails)."""

    def __call__(self, percentage: Decimal, message: str) -> None: ...


def check_gates(plan: RolloutPlan, gates: Sequence[Gate], existing: Sequence[str]) -> None:
    """Every gate must be an alert rule of the stack, none firing before the rollout starts."""
    found = {g.name for g in gates}
    missing = [name for name in plan.gates if name not in found]
    if missing:
        raise SupastackError(
            f"--gate {missing[0]}: no alert rule of that name on stack {plan.stack} (rules: "
            f"{', '.join(sorted(existing)) or 'none'})"
        )
    firing = [g for g in gates if g.firing]
    if firing:
        raise SupastackError(
            f"gate {firing[0]} is firing already; a rollout starts only with its gates quiet"
        )


class Rollout:
    """One run of a plan against a stack: its record, its stack updates, its gates."""

    def __init__(
        self,
        plan: RolloutPlan,
        records: Records,
        update: StackUpdate,
        report: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self.plan, self.records, self.update, self.report = plan, records, update, report
        self.clock, self.wait = clock, wait

    def start(self, current: Decimal) -> Result:
        if self.plan.steps[0] <= current:
            raise SupastackError(
                f"--steps: the first step ({self.plan.steps[0].normalize():f} %) must be above "
                f"the flag's percentage on stack {self.plan.stack} ({current.normalize():f} %)"
            )
        plan = self.plan
        rollout = self.records.start(plan.flag, plan.steps, plan.hold, plan.gates, current)
        return self._run(rollout, first=0, held=0, last_held=current)

    def resume(self, record: RolloutRecord) -> Result:
        """Go on from the step the interrupted rollout reached (deployed again, held in full)."""
        self.records.event(record.id, "resumed", None, f"at step {record.step + 1}")
        last_held = record.steps[record.held - 1] if record.held else record.from_percentage
        return self._run(record.id, first=record.step, held=record.held, last_held=last_held)

    def _run(self, rollout: int, *, first: int, held: int, last_held: Decimal) -> Result:
        plan = self.plan
        for index in range(first, len(plan.steps)):
            percentage = plan.steps[index]
            self.records.reached(rollout, index, held, percentage)
            try:
                self.update(percentage, plan.message(index))
            except SupastackError as error:
                return self._back(rollout, last_held, Outcome.FAILED, f"{plan.message(index)}: "
                                  f"the stack update failed: {error}", ())  # fmt: skip
            self.records.event(rollout, "deployed", percentage, plan.message(index))
            self.report(f"{plan.message(index)}: deployed; holding {plan.hold}")
            fired = self._hold()
            if fired:
                reason = (
                    f"{plan.message(index)}: gate {', '.join(map(str, fired))} fired during the "
                    f"hold; back to {last_held.normalize():f} %"
                )
                self.records.event(rollout, "gate_fired", percentage, reason)
                return self._back(rollout, last_held, Outcome.ROLLED_BACK, reason, fired)
            held = index + 1
            last_held = percentage
            self.records.reached(rollout, index, held, percentage)
            self.records.event(rollout, "held", percentage, f"{plan.message(index)}: held")
            self.report(f"{plan.message(index)}: held")
        self.records.finish(rollout, Outcome.COMPLETED, last_held, "every step held")
        self.records.event(rollout, "completed", last_held, "every step held")
        return Result(Outcome.COMPLETED, last_held)

    def _hold(self) -> list[Gate]:
        """Evaluate the gates every poll until the hold is over; the gates that fired."""
        deadline = self.clock() + self.plan.hold.total_seconds()
        while True:
            fired = [g for g in self.records.gates(self.plan.gates, evaluate=True) if g.firing]
            if fired or self.clock() >= deadline:
                return fired
            self.wait(min(self.plan.poll.total_seconds(), max(deadline - self.clock(), 0)))

    def _back(
        self,
        rollout: int,
        percentage: Decimal,
        outcome: Outcome,
        reason: str,
        fired: Sequence[Gate],
    ) -> Result:
        """Set the flag back to ``percentage`` (a stack update), record why, tell the fired
        gates' channels."""
        self.report(reason)
        message = f"rollout {self.plan.flag}: back to {percentage.normalize():f} %"
        try:
            self.update(percentage, message)
        except SupastackError as error:
            reason += f"; setting it back failed too ({error}): set it by hand"
        summary = f"[{self.plan.stack}] {reason}"
        notified = [c for gate in fired for c in self.records.notify(gate.name, summary)]
        told = f" (notified: {', '.join(notified)})" if notified else ""
        self.records.event(rollout, "rolled_back", percentage, reason + told)
        self.records.finish(rollout, outcome, percentage, reason)
        return Result(outcome, percentage, reason)
