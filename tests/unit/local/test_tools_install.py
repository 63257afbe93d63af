"""Installing the pinned Deno when four function deploys find it missing at once (a fresh
checkout): one installs, the others wait for it, none runs a binary being written."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from supastack.local import system


def test_concurrent_callers_install_once_and_never_see_a_half_installed_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system, "TOOLS_DIR", tmp_path)
    state = {"installed": False, "installing": False, "installs": 0, "seen_mid_install": 0}
    lock = threading.Lock()

    def version(_: Path) -> str | None:
        with lock:
            state["seen_mid_install"] += bool(state["installing"])
            return system.DENO_VERSION if state["installed"] else None

    def install(_: str) -> None:
        with lock:
            state["installing"], state["installs"] = True, state["installs"] + 1
        time.sleep(0.2)  # the npm install in progress (what the others must not run)
        with lock:
            state["installing"], state["installed"] = False, True

    monkeypatch.setattr(system, "deno_version", version)
    monkeypatch.setattr(system, "_npm_install", install)
    ensure = system.ensure_deno.__wrapped__  # each call checks, as the first of a process does
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: ensure(), range(4)))
    assert found == [system.DENO_BIN] * 4
    assert (state["installs"], state["seen_mid_install"]) == (1, 0)
