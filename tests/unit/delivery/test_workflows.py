"""The GitHub workflows validate against GitHub's workflow schema (vendored by check-jsonschema,
so this runs offline)."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[3]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PULUMI_ACTION = "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid(workflow: Path) -> None:
    checker = Path(sysconfig.get_path("scripts")) / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pipeline_gates_prod_and_rolls_back() -> None:
    deploy = yaml.safe_load((WORKFLOWS[0].parent / "deploy.yml").read_text())
    jobs = deploy["jobs"]
    assert (
        jobs["prod"]["needs"] == "staging" and jobs["prod"]["with"]["environment"] == "production"
    )
    assert jobs["rollback-staging"]["with"]["ref"] == "${{ github.event.before }}"
    stack = yaml.safe_load((WORKFLOWS[0].parent / "deploy-stack.yml").read_text())
    steps = [s.get("name") or s.get("uses") for s in stack["jobs"]["up"]["steps"]]
    assert steps.index(PULUMI_ACTION) < steps.index("Smoke tests")
    up = next(s for s in stack["jobs"]["up"]["steps"] if s.get("uses") == PULUMI_ACTION)
    assert up["with"]["refresh"] is True  # drift (a hand-edited flag, policy) is put back
    preview = yaml.safe_load((WORKFLOWS[0].parent / "preview.yml").read_text())
    pulumi_step = next(
        s for s in preview["jobs"]["preview"]["steps"] if s.get("uses") == PULUMI_ACTION
    )
    assert pulumi_step["with"]["policyPacks"] == "policy"


def test_every_pull_request_is_deployed_and_reported_in_one_comment() -> None:
    preview = yaml.safe_load((WORKFLOWS[0].parent / "preview.yml").read_text())
    jobs = preview["jobs"]
    deploy = jobs["deploy-pr"]
    assert deploy["timeout-minutes"] <= 10
    assert any("scripts/pr-deploy" in s.get("run", "") for s in deploy["steps"])
    assert (
        next(s for s in deploy["steps"] if s.get("uses", "").startswith("actions/checkout"))[
            "with"
        ]["fetch-depth"]
        == 0
    )  # the base branch is there to deploy over it
    comment = jobs["comment"]
    assert set(comment["needs"]) == {"lint-migrations", "preview", "deploy-pr"}
    assert comment["if"] == "always()"  # a failed preview or deploy is reported too
    # one comment, found by its marker and updated: not one more per push
    script = next(s["run"] for s in comment["steps"] if "run" in s)
    assert "supastack:pull-request" in script and "PATCH" in script
    assert all(
        "comment-on-pr" not in (s.get("with") or {})
        for job in jobs.values() for s in job.get("steps", [])
    )  # fmt: skip


def test_the_rollout_workflow_passes_its_inputs_as_data_and_commits_each_step() -> None:
    """Inputs reach the shell through the environment, never pasted into the script (a flag
    name like `x; curl …` stays a flag name); every step is a commit, pushed even when a gate
    rolled the flag back; it never runs beside a deploy."""
    rollout = yaml.safe_load((WORKFLOWS[0].parent / "rollout.yml").read_text())
    inputs = rollout[True]["workflow_dispatch"]["inputs"]
    assert set(inputs) >= {"stack", "flag", "steps", "hold", "gates", "resume", "dry-run"}
    assert rollout["concurrency"]["group"] == "deploy"
    steps = rollout["jobs"]["rollout"]["steps"]
    scripts = [s["run"] for s in steps if "run" in s]
    assert not any("${{" in script for script in scripts)
    assert any("supastack rollout" in s and "--commit" in s for s in scripts)
    push = next(s for s in steps if s.get("name", "").startswith("Push"))
    assert push["if"].startswith("always()")


def test_every_action_is_pinned_by_commit_with_its_version_said() -> None:
    """A tag can be moved to other code; a commit cannot (third-party actions included)."""
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            used = re.search(r"uses: (\S+)", line)
            if used and not used[1].startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", used[1]), (workflow, line)
                assert re.search(r"#\s*v\d+\.\d+\.\d+", line), (workflow, line)


BAD_WORKFLOW = """\
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-24.04
    env:
      GREETING: hello
    steps:
      - run: echo ${{ github.event.pull_request.title }}
      - run: rm -rf $TARGET/build && echo "$GREETING ${{ vars.NAME }}"
  report:
    needs: [gret]
    runs-on: ubuntu-24.04
    steps:
      - run: echo done
"""


def test_the_workflow_lint_finds_what_it_must_and_only_that(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(BAD_WORKFLOW)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "clean").write_text("#!/usr/bin/env bash\nrm -rf $1/build\n")
    lint = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lint_workflows.py"), str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 1
    found = lint.stdout
    assert "potentially untrusted" in found  # actionlint: the PR title in a script
    assert 'needs job "gret" which does not exist' in found  # actionlint: a misspelt job
    assert "steps.1 (run): 1:8: note: Double quote to prevent globbing" in found  # shellcheck
    assert "scripts/clean:2:8: note: Double quote to prevent globbing" in found
    assert "GREETING" not in found and "vars" not in found and "ubuntu-24.04" not in found
