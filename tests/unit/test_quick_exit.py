"""Ending a command without the interpreter's teardown: what exit must do still happens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import atexit, pathlib, sys, threading
from supastack.quick_exit import exit_now
out = pathlib.Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
if sys.argv[2] == "worker":  # a thread still working when the command ends
    # like a pool's worker (concurrent.futures): told to finish by the interpreter's exit
    told = threading.Event()
    threading._register_atexit(told.set)
    def work():
        told.wait()
        (out / "worker").write_text("done")
    threading.Thread(target=work).start()
sys.stdout.write("no newline, still buffered")
sys.stderr.write("on stderr too")
exit_now(3)
"""


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path), mode],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_the_status_the_buffered_output_and_the_atexit_handlers_survive(tmp_path: Path) -> None:
    done = _run(tmp_path, "alone")
    assert (done.returncode, done.stdout, done.stderr) == (
        3, "no newline, still buffered", "on stderr too",
    )  # fmt: skip
    assert (tmp_path / "atexit").read_text() == "ran"


def test_a_thread_still_working_gets_the_normal_exit_which_waits_for_it(tmp_path: Path) -> None:
    done = _run(tmp_path, "worker")
    assert (done.returncode, done.stdout) == (3, "no newline, still buffered")
    assert (tmp_path / "worker").read_text() == "done"
    assert (tmp_path / "atexit").read_text() == "ran"
