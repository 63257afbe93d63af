"""The benches' CPU readings: a backend that ends while /proc is read is counted once, in its
own figure or in the postmaster's reaped children's, never in neither."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import cpu
from bench.cpu import MAX_PASSES, Pass, cpu_seconds, one_pass

TICK = os.sysconf("SC_CLK_TCK")
POSTMASTER, BACKEND, RUNTIME = 100, 101, 200


def passes(*found: Pass) -> Callable[[], Pass]:
    """Passes over /proc as they would find the processes, one after another (the last again)."""
    seen = list(found)

    def next_pass() -> Pass:
        return seen.pop(0) if len(seen) > 1 else seen[0]

    return next_pass


def test_a_backend_reaped_between_its_parents_reading_and_its_own_is_counted_once() -> None:
    # the backend has used 75 ticks when it ends; the second pass read the postmaster before
    # the backend was reaped and then found it gone: its CPU is in no figure of that pass
    running = {POSTMASTER: ("postgres", 10, 0), BACKEND: ("postgres", 74, 0),
               RUNTIME: ("deno", 40, 0)}  # fmt: skip
    racy = {POSTMASTER: ("postgres", 10, 0), RUNTIME: ("deno", 40, 0)}
    after = {POSTMASTER: ("postgres", 10, 75), RUNTIME: ("deno", 41, 0)}
    used = cpu_seconds(passes(running, racy, after))
    assert used["postgres"] == pytest.approx((10 + 75) / TICK)
    assert used["deno"] == pytest.approx(41 / TICK)


def test_a_steady_reading_takes_the_second_pass() -> None:
    # the processes' own CPU grows between passes; nothing ended, so two passes settle it
    first = {POSTMASTER: ("postgres", 10, 5), BACKEND: ("postgres", 75, 0)}
    second = {POSTMASTER: ("postgres", 10, 5), BACKEND: ("postgres", 76, 0)}
    assert cpu_seconds(passes(first, second))["postgres"] == pytest.approx(91 / TICK)


def test_a_backend_that_started_between_passes_is_read_again() -> None:
    before = {POSTMASTER: ("postgres", 10, 0)}
    started = {POSTMASTER: ("postgres", 10, 0), BACKEND: ("postgres", 3, 0)}
    assert cpu_seconds(passes(before, started))["postgres"] == pytest.approx(13 / TICK)


def test_no_reading_when_processes_never_stop_ending(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = iter(range(10 * MAX_PASSES))
    monkeypatch.setattr(cpu, "MAX_PASSES", 5)
    with pytest.raises(RuntimeError, match="no consistent reading"):
        cpu_seconds(lambda: {POSTMASTER: ("postgres", 10, next(counter))})


def test_a_pass_reads_kinds_own_and_reaped_ticks_from_proc(tmp_path: Path) -> None:
    def stat(pid: int, name: str, ticks: tuple[int, int, int, int]) -> None:
        """utime, stime, cutime and cstime at their places in /proc/<pid>/stat."""
        (tmp_path / str(pid)).mkdir()
        fields = ["S", "1"] + ["0"] * 9 + [str(t) for t in ticks]
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({name}) {' '.join(fields)} 0 0\n")

    stat(POSTMASTER, "postgres", (4, 6, 70, 5))
    stat(RUNTIME, "deno", (30, 10, 0, 0))
    stat(300, "wrk", (99, 99, 0, 0))  # not counted here: a load generator is a child of the bench
    (tmp_path / "301").mkdir()  # ended as it was read: no stat
    (tmp_path / "self").mkdir()
    assert one_pass(tmp_path) == {POSTMASTER: ("postgres", 10, 75), RUNTIME: ("deno", 40, 0)}
