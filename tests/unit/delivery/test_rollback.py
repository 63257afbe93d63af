"""`supastack rollback` against a fake `pulumi` on PATH that records its calls and answers with
recorded JSON; the project is a throwaway git repository with two releases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from supastack.cli import app
from supastack.local.paths import PROJECT_DIR
from tests.unit.delivery.test_smoke_outputs import MINIMAL

FAKE_PULUMI = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "cwd": os.getcwd()}}) + "\\n")
if args[:2] == ["stack", "history"]:
    print(os.environ["FAKE_PULUMI_HISTORY"])
elif args[:2] == ["stack", "output"]:
    print(os.environ["FAKE_PULUMI_OUTPUTS"])
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, Path]:
    """A repository whose HEAD adds a migration and a function to the commit before it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.local.yaml"):
        shutil.copy(PROJECT_DIR / name, repo)
    for tree in ("apps", "migrations", "functions"):
        shutil.copytree(PROJECT_DIR / tree, repo / tree)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "release 1")
    older = _git(repo, "rev-parse", "HEAD")
    migrations = repo / "migrations" / "bidding"
    (migrations / "20260201000000_bid_comments.sql").write_text(
        "create table public.bid_comments (id bigint primary key);\n"
        "alter table public.bid_comments enable row level security;\n"
    )
    (migrations / "20260201000000_bid_comments.down.sql").write_text(
        "drop table public.bid_comments;\n"
    )
    (repo / "functions" / "bidding" / "bid-ping").mkdir()
    (repo / "functions" / "bidding" / "bid-ping" / "index.ts").write_text(
        "Deno.serve(() => new Response('pong'));\n"
    )
    manifest = yaml.safe_load((repo / "apps" / "bidding.yaml").read_text())
    manifest["functions"]["bid-ping"] = {"verifyJwt": False, "verifyJwtOffReason": "test"}
    (repo / "apps" / "bidding.yaml").write_text(yaml.safe_dump(manifest))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "release 2")

    bin_dir, log = tmp_path / "bin", tmp_path / "pulumi-calls.jsonl"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    history = [{"version": 2, "environment": {"git.head": _git(repo, "rev-parse", "HEAD")}},
               {"version": 1, "environment": {"git.head": older}}]  # fmt: skip
    monkeypatch.setenv("FAKE_PULUMI_HISTORY", json.dumps(history))
    monkeypatch.setenv("FAKE_PULUMI_OUTPUTS", json.dumps(MINIMAL))
    return repo, older, log


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_rollback_shows_what_goes_deploys_the_older_commit_and_runs_the_smoke_tests(
    releases: tuple[Path, str, Path],
) -> None:
    repo, older, log = releases
    result = CliRunner().invoke(app, ["--cwd", str(repo), "rollback", "--to", "1", "--yes"])
    assert f"rolling local back to {older[:12]}:" in result.output
    assert "function   bid-ping  (deleted)" in result.output
    assert (
        "migration  migrations/bidding/20260201000000_bid_comments.sql  "
        "(down file runs, destructive: backed up first)" in result.output
    )
    calls = _calls(log)
    # the local stack's engine, decided here (the Pulumi CLI is installed) and recorded with it
    assert [c["args"][:2] for c in calls] == [
        ["stack", "history"],
        ["stack", "select"],
        ["up", "--yes"],
        ["stack", "output"],
    ]
    up = calls[2]
    assert up["args"] == ["up", "--yes", "--skip-preview", "--stack", "local", "--message",
                          "supastack rollback to 1"]  # fmt: skip
    assert up["cwd"] != str(repo) and not Path(str(up["cwd"])).exists()  # a worktree, removed
    assert result.exit_code == 1 and "database checks" in result.output  # smoke ran (and failed)


def test_rollback_refuses_uncommitted_changes_and_unknown_updates(
    releases: tuple[Path, str, Path],
) -> None:
    repo, _, log = releases
    runner = CliRunner()
    result = runner.invoke(app, ["--cwd", str(repo), "rollback", "--to", "7", "--yes"])
    assert result.exit_code == 1 and "stack local has no update 7" in result.output
    (repo / "apps" / "bidding.yaml").write_text("edited: true\n")
    result = runner.invoke(app, ["--cwd", str(repo), "rollback", "--to", "1", "--yes"])
    assert result.exit_code == 1 and "uncommitted changes in the project" in result.output
    assert not any(c["args"][0] == "up" for c in _calls(log))


@pytest.mark.parametrize(
    "command", [["smoke", "--stack", "local"], ["rollback", "--to", "1", "--yes"]]
)
def test_decrypted_outputs_are_never_written_to_disk(
    releases: tuple[Path, str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    """`pulumi stack output --show-secrets` holds keys, the database URL and the API token:
    they are read from the CLI's pipe, and no file anywhere in the temp dir holds them."""
    repo, _, _ = releases
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = CliRunner().invoke(app, ["--cwd", str(repo), *command])
    assert "database checks" in result.output  # the outputs were read and used
    left = [p for p in scratch.rglob("*") if p.is_file()]
    assert not [p for p in left if "sbp_x" in p.read_text(errors="replace")], left
    assert not [p for p in left if p.name.startswith("supastack-outputs-")]
