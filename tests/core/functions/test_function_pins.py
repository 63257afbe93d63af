"""Per-app npm pins against the real `deno check`: a function is checked with its app's lock."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from supastack.errors import SupastackError
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
