"""The two engines that can update a stack, and how each is asked to deploy, preview, for its
outputs and for its history: the Pulumi CLI (``pulumi up``) and supastack's offline applier
(``python -m applier``, which says it is not ``pulumi up``). Which one a stack uses is its
target's decision (:mod:`supastack.targets`), never the caller's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Any

from supastack import sealed
from supastack.delivery.outputs import OFFLINE_OUTPUTS, StackOutputs, load, parse
from supastack.errors import SupastackError
from supastack.local import applier_ahead, history


class Engine(StrEnum):
    PULUMI = "pulumi"
    APPLIER = "applier"

    @property
    def label(self) -> str:
        return "pulumi up" if self is Engine.PULUMI else "the offline applier"


def pulumi_cli() -> str | None:
    """The Pulumi CLI, on PATH or where its installer puts it (``~/.pulumi/bin``)."""
    return shutil.which("pulumi") or shutil.which("pulumi", path=str(Path.home() / ".pulumi/bin"))


def _require_pulumi() -> str:
    found = pulumi_cli()
    if found is None:
        raise SupastackError("the Pulumi CLI is not installed")
    return found


def _pulumi(args: list[str], project: Path, env: dict[str, str], what: str) -> str:
    """A Pulumi CLI command's output (it may hold decrypted secrets: kept in memory only)."""
    result = subprocess.run(
        [_require_pulumi(), *args], cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, **env},
    )  # fmt: skip
    if result.returncode != 0:
        raise SupastackError(f"{what} failed: {result.stderr.strip()}")
    return result.stdout


def run_deploy(
    engine: Engine, project: Path, stack: str, env: dict[str, str], *, message: str,
    refresh: bool,
) -> int:  # fmt: skip
    """One update of ``stack`` from the program and config in ``project``; the exit status."""
    options = [*(["--message", message] if message else []), *(["--refresh"] * refresh)]
    if engine is Engine.APPLIER:
        waiting = applier_ahead.take(project, stack)  # `supastack local deploy` started it
        if waiting is not None:
            return applier_ahead.go(waiting, options)
        command = [*applier_ahead.command(project, stack), *options]
        return subprocess.run(command, cwd=project, check=False).returncode
    full_env = {**os.environ, **env}
    selected = subprocess.run(
        [_require_pulumi(), "stack", "select", "--create", stack, "--non-interactive"],
        cwd=project, env=full_env, check=False,
    )  # fmt: skip
    if selected.returncode != 0:
        return selected.returncode
    command = [_require_pulumi(), "up", "--yes", "--skip-preview", "--stack", stack, *options]
    return subprocess.run(command, cwd=project, env=full_env, check=False).returncode


def run_preview(
    engine: Engine, project: Path, stack: str, env: dict[str, str], *, expect_no_changes: bool
) -> int:
    """``pulumi preview --diff`` of the stack, or the offline applier's own preview of it (the
    same plan: check and diff of every resource with unknowns, nothing applied); the exit
    status."""
    flags = ["--expect-no-changes"] * expect_no_changes
    if engine is Engine.APPLIER:
        command = [*applier_ahead.command(project, stack), "--preview", *flags]
        return subprocess.run(command, cwd=project, check=False).returncode
    command = [_require_pulumi(), "preview", "--diff", "--stack", stack, *flags]
    return subprocess.run(command, cwd=project, env={**os.environ, **env}, check=False).returncode


def read_outputs(
    engine: Engine, project: Path, stack: str, env: dict[str, str], state_dir: Path | None
) -> StackOutputs:
    """The stack's outputs with their secrets, from the engine that deployed it."""
    if engine is Engine.APPLIER:
        return load(_offline_outputs(state_dir, stack))
    text = _pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack], project,
                   env, f"pulumi stack output --stack {stack}")  # fmt: skip
    return parse(text, f"pulumi stack output --stack {stack}")


def show_outputs(
    engine: Engine,
    project: Path,
    stack: str,
    env: dict[str, str],
    state_dir: Path | None,
    *,
    show_secrets: bool,
) -> str:
    """The stack's outputs as ``pulumi stack output --json`` prints them: each secret as
    ``"[secret]"`` unless ``show_secrets``."""
    if engine is Engine.APPLIER:
        path = _offline_outputs(state_dir, stack)
        data = json.loads(path.read_text())
        return json.dumps(sealed.opened(path, data) if show_secrets else sealed.masked(data),
                          indent=2)  # fmt: skip
    flags = ["--show-secrets"] * show_secrets
    return _pulumi(["stack", "output", "--json", *flags, "--stack", stack], project, env,
                   f"pulumi stack output --stack {stack}")  # fmt: skip


def _offline_outputs(state_dir: Path | None, stack: str) -> Path:
    assert state_dir is not None
    path = state_dir / OFFLINE_OUTPUTS
    if not path.exists():
        raise SupastackError(f"{path}: no outputs yet: deploy the stack {stack} first")
    return path


def read_history(
    engine: Engine, project: Path, stack: str, env: dict[str, str], state_dir: Path | None
) -> list[dict[str, Any]]:
    """The stack's updates, newest first, shaped as ``pulumi stack history --json``."""
    if engine is Engine.APPLIER:
        assert state_dir is not None
        return history.read(state_dir)
    text = _pulumi(["stack", "history", "--json", "--stack", stack], project, env,
                   "pulumi stack history")  # fmt: skip
    loaded: list[dict[str, Any]] = json.loads(text)
    return loaded
