"""The dynamic-provider host started ahead of a run (applier/host_process.py): the run takes
that very process, a second run gets its own, and one no run took is stopped at exit."""

from __future__ import annotations

from pathlib import Path

from applier import host_process


def test_a_run_takes_the_host_started_ahead_and_an_unused_one_is_stopped(tmp_path: Path) -> None:
    host_process.prestart(tmp_path)
    host_process.prestart(tmp_path)  # once per project
    started = host_process.take(tmp_path, "supastack")
    again = host_process.take(tmp_path, "supastack")  # nothing left ahead: a new one
    try:
        assert started is not again
        for process in (started, again):
            assert process.stdout is not None
            assert process.stdout.readline().decode().strip().isdigit()  # serving its port
    finally:
        for process in (started, again):
            process.terminate()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()
    host_process.prestart(tmp_path)
    [unused] = host_process._started.values()
    host_process._stop_unused()  # what exit runs
    assert unused.poll() is not None and host_process._started == {}
