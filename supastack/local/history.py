"""The local stack's update history: what ``pulumi stack history`` keeps for a cloud stack.

Each run of the offline applier appends one entry to ``history.json`` in the state directory,
shaped like an entry of ``pulumi stack history --json`` (version, message, start and end,
result, resource changes, the git commit and the stack's non-secret ``supastack:`` config), so a
rollout's steps and a rollback show on the local stack as they do on staging and prod.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supastack.config.settings import SECRET_KEYS
from supastack.private_files import write_private

HISTORY = "history.json"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def git_environment(project: Path) -> dict[str, str]:
    """``git.head`` and ``git.dirty`` of the project, as Pulumi records them (none outside git)."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return {}
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True, check=False
    )
    return {"git.head": head.stdout.strip(), "git.dirty": str(bool(status.stdout.strip())).lower()}


def public_config(config: Mapping[str, str]) -> dict[str, str]:
    """The config without its secret keys (their values never enter the history)."""
    return {k: v for k, v in config.items() if k.rpartition(":")[2] not in SECRET_KEYS}


def read(state_dir: Path) -> list[dict[str, Any]]:
    """The entries, newest first (as ``pulumi stack history`` lists them)."""
    path = state_dir / HISTORY
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return list(reversed(entries))


def append(state_dir: Path, entry: Mapping[str, Any]) -> int:
    """Add an entry under the next version number (two deploys at once take turns); the
    version."""
    path = state_dir / HISTORY
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / f".{HISTORY}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = json.loads(path.read_text()) if path.exists() else []
        version = len(entries) + 1
        entries.append({"version": version, "kind": "update", **entry})
        write_private(path, json.dumps(entries, indent=1))
    return version
