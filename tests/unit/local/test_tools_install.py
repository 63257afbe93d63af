"""Installing the pinned Deno when four function deploys find it missing at once (a fresh
checkout): one installs, the others wait for it, none runs a binary being written."""

from __future__ import annotations

import fcntl
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from supastack.local import system
from tests.conftest import wait_until


def test_concurrent_callers_install_once_and_never_see_a_half_installed_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system, "TOOLS_DIR", tmp_path)
    state = {"installed": False, "installing": False, "installs": 0, "seen_mid_install": 0}
    lock = threading.Lock()
    release = threading.Event()  # the install runs until every caller is at the lock
    at_lock = [0]
    flock = fcntl.flock

    def counted(file: Any, operation: int) -> None:
        with lock:
            at_lock[0] += 1
        flock(file, operation)

    def version(_: Path) -> str | None:
        with lock:
            state["seen_mid_install"] += bool(state["installing"])
            return system.DENO_VERSION if state["installed"] else None

    def install(_: str) -> None:
        with lock:
            state["installing"], state["installs"] = True, state["installs"] + 1
        assert release.wait(timeout=30)
        with lock:
            state["installing"], state["installed"] = False, True

    monkeypatch.setattr(fcntl, "flock", counted)
    monkeypatch.setattr(system, "deno_version", version)
    monkeypatch.setattr(system, "_npm_install", install)
    ensure = system.ensure_deno.__wrapped__  # each call checks, as the first of a process does
    with ThreadPoolExecutor(max_workers=4) as pool:
        calls = [pool.submit(ensure) for _ in range(4)]
        wait_until(lambda: at_lock[0] == 4 and state["installing"])  # one installs, 3 wait
        release.set()
        found = [call.result(timeout=30) for call in calls]
    assert found == [system.DENO_BIN] * 4
    assert (state["installs"], state["seen_mid_install"]) == (1, 0)
