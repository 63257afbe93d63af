"""The GitHub workflows validate against GitHub's workflow schema (vendored by check-jsonschema,
so this runs offline)."""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).parents[2] / ".github" / "workflows").glob("*.yml"))


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
    assert steps.index("pulumi/actions@v7") < steps.index("Smoke tests")
    up = next(s for s in stack["jobs"]["up"]["steps"] if s.get("uses") == "pulumi/actions@v7")
    assert up["with"]["refresh"] is True  # drift (a hand-edited flag, policy) is put back
    preview = yaml.safe_load((WORKFLOWS[0].parent / "preview.yml").read_text())
    pulumi_step = next(
        s for s in preview["jobs"]["preview"]["steps"] if s.get("uses") == "pulumi/actions@v7"
    )
    assert (
        pulumi_step["with"]["comment-on-pr"] is True
        and pulumi_step["with"]["policyPacks"] == "policy"
    )


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
