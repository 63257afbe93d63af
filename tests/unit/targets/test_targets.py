"""The engine seam: a stack is deployed by one engine, decided by its target. A Supabase stack
by `pulumi up`; a local stack by the engine of its first deploy, recorded with its state, so a
Pulumi CLI installed later (or gone later) never gives the stack a second state store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from applier.run import run as run_applier
from supastack.config import settings
from supastack.errors import SupastackError
from supastack.local.paths import PROJECT_DIR
from supastack.targets import Engine, LocalTarget, local_target, target_for
from tests.conftest import project_file


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with the local and staging stack files, and no Pulumi CLI anywhere."""
    root = tmp_path / "project"
    root.mkdir()
    project_file(root)
    for name in ("Pulumi.local.yaml", "Pulumi.staging.yaml"):
        shutil.copy(PROJECT_DIR / name, root)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}{os.pathsep}{Path(sys.executable).parent}")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pulumi/bin either
    return root


def _install_pulumi(project: Path) -> None:
    fake = project.parent / "bin" / "pulumi"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)


def _local(project: Path) -> LocalTarget:
    return local_target(settings.load(project, "local"), project, "the test")


def _commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The engine commands a deploy runs (recorded, not run)."""
    ran: list[list[str]] = []

    def record(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr("supastack.targets.engines.subprocess.run", record)
    return ran


def test_a_local_stack_keeps_the_engine_of_its_first_deploy(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _local(project)
    assert target.recorded_engine() is None and target.engine() is Engine.APPLIER
    ran = _commands(monkeypatch)
    assert target.deploy(message="first") == 0
    assert ran[-1][1:3] == ["-m", "applier"]
    assert target.engine_record.stat().st_mode & 0o777 == 0o600
    _install_pulumi(project)  # a Pulumi CLI appears: the stack stays with the applier
    assert target.engine() is Engine.APPLIER
    assert target.deploy(message="second") == 0
    assert ran[-1][1:3] == ["-m", "applier"] and len(ran) == 2


def test_a_local_stack_first_deployed_by_pulumi_stays_with_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_pulumi(project)
    target = _local(project)
    ran = _commands(monkeypatch)
    assert target.deploy() == 0
    assert [c[1:3] for c in ran] == [["stack", "select"], ["up", "--yes"]]
    assert target.recorded_engine() is Engine.PULUMI
    # the offline applier refuses it: it would keep a second state of the stack
    with pytest.raises(SupastackError, match=r"stack local is deployed by pulumi up \(recorded in"):
        run_applier(project, "local")
    # and where the CLI is gone, deploying asks for it by name instead of switching engines
    (project.parent / "bin" / "pulumi").unlink()
    with pytest.raises(SupastackError, match=r"the Pulumi CLI is not installed here: install it"):
        target.deploy()


def test_a_supabase_stack_is_always_deployed_by_pulumi(project: Path) -> None:
    staging = target_for(settings.load(project, "staging"), project)
    assert staging.engine() is Engine.PULUMI and not staging.is_local
    with pytest.raises(SupastackError, match=r"the offline applier manages stacks whose target"):
        run_applier(project, "staging")


def test_a_broken_engine_record_is_named(project: Path) -> None:
    target = _local(project)
    target.engine_record.parent.mkdir(parents=True)
    target.engine_record.write_text('{"engine": "terraform"}')
    with pytest.raises(SupastackError, match=r"engine.json: not an engine record"):
        target.engine()


def test_preview_runs_the_stacks_own_engine(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = _local(project)
    local.before_deploy(Engine.APPLIER)  # deployed by the offline applier
    ran = _commands(monkeypatch)
    assert local.preview(expect_no_changes=True) == 0
    assert ran[-1][1:] == ["-m", "applier", "--project", str(project), "--stack", "local",
                           "--preview", "--expect-no-changes"]  # fmt: skip
    _install_pulumi(project)
    staging = target_for(settings.load(project, "staging"), project)
    assert staging.preview() == 0
    assert ran[-1] == [ran[-1][0], "preview", "--diff", "--stack", "staging"]
    # the local stack stays with its engine although the Pulumi CLI is now installed
    assert local.preview() == 0 and ran[-1][1:3] == ["-m", "applier"]
