"""The offline applier started ahead for ``supastack local deploy`` (:mod:`supastack.entry`).

``supastack local deploy`` runs the offline applier as a process of its own (the core stays
Pulumi-free). Started after the CLI had imported itself and read the stack, that process's own
imports and its provider host's start-up followed the CLI's; so, for that command, the applier
is started first thing, waiting (``python -m applier --await``: it imports what it needs and
starts the host, then reads the rest of its command line from its standard input). The deploy
hands it that command line (:func:`take` and :func:`go`, from
:func:`supastack.targets.engines.run_deploy`) when the project and stack are the ones it was
started for; otherwise, and when the CLI exits without deploying (a refused stack, the Pulumi
CLI as the engine), its input is closed and it exits having done nothing. Light on purpose: it
is imported before anything heavy.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
from pathlib import Path

_waiting: dict[tuple[Path, str], subprocess.Popen[bytes]] = {}


def command(project: Path, stack: str) -> list[str]:
    """The offline applier's command line for ``project`` and ``stack`` (its options follow)."""
    return [sys.executable, "-m", "applier", "--project", str(project), "--stack", stack]


def start(project: Path, stack: str) -> None:
    """Start the applier for ``project`` and ``stack``, waiting for its command line."""
    _waiting[(project.resolve(), stack)] = subprocess.Popen(
        [*command(project, stack), "--await"], cwd=project, stdin=subprocess.PIPE
    )


def take(project: Path, stack: str) -> subprocess.Popen[bytes] | None:
    """The applier started ahead for ``project`` and ``stack``, if any (taken once)."""
    return _waiting.pop((project.resolve(), stack), None)


def go(process: subprocess.Popen[bytes], options: list[str]) -> int:
    """Hand a waiting applier the rest of its command line; its exit status."""
    assert process.stdin is not None
    process.stdin.write(json.dumps(options).encode() + b"\n")
    process.stdin.close()
    return process.wait()


@atexit.register
def _release_unused() -> None:
    """A waiting applier no deploy took: its input closed, it exits having done nothing."""
    for process in _waiting.values():
        if process.stdin is not None:
            process.stdin.close()
        process.wait()
    _waiting.clear()
