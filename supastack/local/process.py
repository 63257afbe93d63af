"""The background processes of a local environment (the edge runtime, the Redis): what each
needs from a process, once: its pid from its pid file (a stale file, or a pid the system gave
to another program since, counts as not running), a start that waits until the process is
ready or fails saying why, and a stop (SIGTERM, then SIGKILL after a timeout)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from supastack.errors import SupastackError


def pid_from(pid_file: Path, marker: bytes) -> int | None:
    """The pid in ``pid_file`` if that process runs and its command line holds ``marker``."""
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline else None


def wait_ready(
    ready: Callable[[], bool],
    timeout_s: float,
    *,
    exited: Callable[[], str | None],
    timed_out: Callable[[], str],
    every: float = 0.05,
) -> None:
    """Poll ``ready`` until it holds; a process that ``exited`` (its message) or a start past
    ``timeout_s`` (``timed_out``'s message, after it has cleaned up) is an error."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if (why := exited()) is not None:
            raise SupastackError(why)
        if time.monotonic() > deadline:
            raise SupastackError(timed_out())
        time.sleep(every)


def terminate(pid_of: Callable[[], int | None], timeout_s: float) -> None:
    """Stop the process ``pid_of`` names (None: none runs): SIGTERM, wait up to ``timeout_s``
    for it to be gone, then SIGKILL."""
    pid = pid_of()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_of() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_of() is not None:
        os.kill(pid, signal.SIGKILL)


def stop(pid_of: Callable[[], int | None], pid_file: Path, timeout_s: float) -> None:
    """Terminate the process and forget its pid file."""
    terminate(pid_of, timeout_s)
    pid_file.unlink(missing_ok=True)
