"""`scripts/pr-deploy`, the pull-request deployment job's script, run here as the job runs it
(with the offline applier standing in for `pulumi up`, which cannot run on this machine): a
throwaway target of its own, the checkout's program deployed, smoke and advisors, the base
branch's program deployed over it, a report, and nothing left behind."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from supastack.local.paths import PROJECT_DIR


@pytest.mark.timeout(900)
def test_a_pull_request_is_deployed_smoked_rolled_back_and_torn_down(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    run = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "pr-deploy"), "HEAD", str(report)],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    text = report.read_text()
    assert "Every step passed." in text
    for step in ("local up", "deploy the pull request", "smoke", "advisors",
                 "deploy HEAD over it", "smoke after"):  # fmt: skip
        assert re.search(rf"^\| {re.escape(step)} \| \d+ \|$", text, re.MULTILINE), step
    assert re.search(r"update 1: \d+ created, 0 updated, 0 replaced, 0 deleted", text)
    # the same program again changes nothing: its inputs do not depend on the checkout's path
    assert re.search(r"update 2: 0 created, 0 updated, 0 replaced, 0 deleted", text)
    assert re.search(r"\d+ passed, 0 failed", text)
    assert "0 ERROR, 0 WARN" in text
    # torn down: no stack file, state or worktree left in the project
    assert not (PROJECT_DIR / "Pulumi.pr-deploy.yaml").exists()
    assert not (PROJECT_DIR / ".supastack" / "pr-deploy").exists()
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=PROJECT_DIR,
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert len(worktrees.strip().splitlines()) == 1
