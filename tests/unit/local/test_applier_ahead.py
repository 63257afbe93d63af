"""The offline applier started ahead of ``supastack local deploy`` (supastack.entry,
supastack.local.applier_ahead): which command lines start it, that a deploy hands it the rest
of its command line, and that one no deploy took exits having done nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from supastack import entry
from supastack.local import applier_ahead


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: ahead\nruntime: python\n")
    (tmp_path / "apps").mkdir()
    return tmp_path


def test_only_a_local_deploy_starts_it(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "apps")  # the project is found upwards, as the CLI finds it
    assert entry._local_deploy(["local", "deploy"]) == (project, "local")
    assert entry._local_deploy(["local", "deploy", "--stack", "dev", "-m", "x"]) == (
        project, "dev"
    )  # fmt: skip
    assert entry._local_deploy(["--cwd", str(project), "local", "deploy", "-s", "dev"]) == (
        project, "dev"
    )  # fmt: skip
    for other in (["deploy", "--stack", "local"], ["local", "preview"], ["local", "deploy",
                  "--help"], ["local", "deploy", "--stack"], []):  # fmt: skip
        assert entry._local_deploy(other) is None
    monkeypatch.chdir(project.parent)  # no project here: the CLI says so, nothing started
    assert entry._local_deploy(["local", "deploy"]) is None


def test_a_deploy_hands_it_the_rest_of_its_command_line(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    applier_ahead.start(project, "nosuch")
    assert applier_ahead.take(project, "local") is None  # another stack: not this one
    waiting = applier_ahead.take(project, "nosuch")
    assert waiting is not None and applier_ahead.take(project, "nosuch") is None  # once
    # it runs as `python -m applier --stack nosuch --message why`: the stack is refused
    assert applier_ahead.go(waiting, ["--message", "why"]) == 1
    assert "no such stack 'nosuch'" in capfd.readouterr().err


def test_one_no_deploy_took_exits_having_done_nothing(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    applier_ahead.start(project, "local")
    [process] = applier_ahead._waiting.values()
    applier_ahead._release_unused()  # what the CLI's exit does
    assert process.returncode == 0 and applier_ahead._waiting == {}
    assert capfd.readouterr() == ("", "")
    assert sorted(p.name for p in project.iterdir()) == ["Pulumi.yaml", "apps"]


def test_the_command_refusing_the_stack_leaves_no_applier_behind(project: Path) -> None:
    """`supastack local deploy --stack nosuch` through the entry point: the applier started
    ahead is released when the CLI exits on the refused stack (the command returns only once it
    has exited too: it holds the command's output pipes)."""
    command = [sys.executable, "-c", "from supastack.entry import main; main()",
               "--cwd", str(project), "local", "deploy", "--stack", "nosuch"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "no such stack 'nosuch'" in done.stderr
    assert "applier" not in done.stderr  # the applier said nothing: it was never handed a line
    assert sorted(p.name for p in project.iterdir()) == ["Pulumi.yaml", "apps"]
