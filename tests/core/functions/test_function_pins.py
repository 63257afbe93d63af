"""Per-app npm pins against the real `deno check`: a function is checked with its app's lock, once
per package content."""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from supastack.errors import SupastackError
from supastack.functions import packaging
from supastack.functions.packaging import deno_check, package
from supastack.local.paths import DENO_DIR, PROJECT_DIR
from supastack.local.system import ensure_deno

USES_SHARED = (
    'import { json, serve } from "../../_shared/mod.ts";\n'
    "serve(import.meta.url, {}, () => json(200, {}));\n"
)


def _project(tmp_path: Path, lock: str) -> Path:
    root = tmp_path / "functions"
    shutil.copytree(PROJECT_DIR / "functions" / "_shared", root / "_shared")
    (root / "shop" / "buy").mkdir(parents=True)
    (root / "shop" / "buy" / "index.ts").write_text(USES_SHARED)
    (root / "shop" / "deno.json").write_text('{"compilerOptions": {"strict": true}}\n')
    (root / "shop" / "deno.lock").write_text(lock)
    return root


def test_a_function_is_checked_against_its_apps_own_lock(tmp_path: Path) -> None:
    pinned = (PROJECT_DIR / "functions" / "deno.lock").read_text()  # has npm:postgres
    deno = ensure_deno()
    deno_check(package(_project(tmp_path / "ok", pinned), "shop", "buy", {}), deno, DENO_DIR)
    stale = '{"version": "5", "specifiers": {}, "npm": {}}\n'  # the app's lock lacks postgres
    with pytest.raises(SupastackError, match=r"function 'buy': deno check failed"):
        deno_check(package(_project(tmp_path / "stale", stale), "shop", "buy", {}), deno, DENO_DIR)


def test_a_package_that_passed_is_not_checked_again_and_one_that_failed_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy to a fresh target (or a rollback) uploads packages that passed before: the
    check runs once per content and Deno binary; an edit runs it again, a failure every time."""
    pinned = (PROJECT_DIR / "functions" / "deno.lock").read_text()
    deno = ensure_deno()
    runs: list[list[str]] = []
    real_run = subprocess.run

    def counted(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        runs.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)

    def built(name: str, lock: str) -> packaging.FunctionPackage:
        root = _project(tmp_path / name, lock)
        (root / "shop" / "buy" / "index.ts").write_text(f"{USES_SHARED}// {uuid.uuid4()}\n")
        return package(root, "shop", "buy", {})

    first = built("first", pinned)
    deno_check(first, deno, DENO_DIR)
    deno_check(first, deno, DENO_DIR)
    deno_check(package(tmp_path / "first" / "functions", "shop", "buy", {}), deno, DENO_DIR)
    assert len(runs) == 1  # the same bytes, read again: not checked again
    deno_check(built("edited", pinned), deno, DENO_DIR)
    assert len(runs) == 2
    stale = built("stale", '{"version": "5", "specifiers": {}, "npm": {}}\n')
    for _ in range(2):
        with pytest.raises(SupastackError, match=r"function 'buy': deno check failed"):
            deno_check(stale, deno, DENO_DIR)
    assert len(runs) == 4
    # two deploys checking one new package at once: each runs its own check, both pass, and
    # the record either wrote holds for the next
    fresh, barrier = built("twice", pinned), threading.Barrier(2)
    errors: list[SupastackError] = []

    def check() -> None:
        barrier.wait()
        try:
            deno_check(fresh, deno, DENO_DIR)
        except SupastackError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ran = len(runs)
    assert errors == [] and ran in (5, 6)
    deno_check(fresh, deno, DENO_DIR)
    assert len(runs) == ran
