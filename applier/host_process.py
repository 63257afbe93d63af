"""The dynamic-provider host's process (``python -m pulumi.dynamic`` in the project), started
as early as a run knows its project: the host's own start-up (a Python process importing the
Pulumi SDK and gRPC, about half a second) then overlaps the applier's imports and program
instead of following them. Light on purpose: it imports nothing but the standard library."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from pathlib import Path

_started: dict[tuple[Path, str], subprocess.Popen[bytes]] = {}


def _spawn(project: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=project, env={**os.environ, "PULUMI_PROJECT": name},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
    )  # fmt: skip


def prestart(project: Path, name: str = "supastack") -> None:
    """Start the host for the next run in ``project`` now (stopped at exit if no run took it:
    the stack refused, say)."""
    key = (project.resolve(), name)
    if key not in _started:
        _started[key] = _spawn(project, name)


@atexit.register
def _stop_unused() -> None:
    for process in _started.values():
        process.terminate()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    _started.clear()


def take(project: Path, name: str) -> subprocess.Popen[bytes]:
    """The host started for ``project``, or a new one (each is used by one run)."""
    return _started.pop((project.resolve(), name), None) or _spawn(project, name)
