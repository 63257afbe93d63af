"""Roll a stack back: deploy the program and config of an earlier update again.

The stack's history (``pulumi stack history``, or the offline applier's for a local stack:
:meth:`supastack.targets.StackTarget.history`) records each update's git commit
(``environment["git.head"]``). The rollback checks that commit out in a temporary worktree,
shows what deploying it will undo (migrations whose down files run, functions whose code
changes, jobs and rules that go or come back), asks, deploys it with the stack's own engine
and then runs the smoke tests. It refuses to start with
uncommitted changes, so nothing unreviewed is deployed by accident. Destructive down files are
backed up by the Migration resources before they run, on stacks with backups.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from supastack.config import settings
from supastack.errors import SupastackError
from supastack.migrations.lint import destructive
from supastack.plan.stack import StackPlan, plan_stack
from supastack.targets import StackTarget


def _run(command: list[str], cwd: Path, what: str) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SupastackError(f"{what} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SupastackError(f"{name} is not installed")
    return found


def target_commit(project: Path, target: StackTarget, to: str) -> str:
    """The commit to deploy: that of update ``to`` (a number) in the stack's history, or the
    git ref ``to``."""
    if to.isdigit():
        return target.commit_of_update(to)
    return _run(
        [_tool("git"), "rev-parse", "--verify", f"{to}^{{commit}}"], project, "git rev-parse"
    ).strip()


def require_clean(project: Path) -> None:
    status = _run([_tool("git"), "status", "--porcelain"], project, "git status")
    if status.strip():
        raise SupastackError(
            "uncommitted changes in the project; commit or stash them before a rollback:\n"
            + status.rstrip()
        )


@contextmanager
def worktree(project: Path, commit: str) -> Iterator[Path]:
    """The commit checked out in a temporary worktree, removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="supastack-rollback-")) / "tree"
    _run(
        [_tool("git"), "worktree", "add", "--detach", str(where), commit],
        project,
        "git worktree add",
    )
    shared = project / ".supastack"  # the same tools, and through a relative stateDir, state
    if shared.is_dir():
        (where / ".supastack").symlink_to(shared.resolve())
    try:
        yield where
    finally:
        subprocess.run(
            [_tool("git"), "worktree", "remove", "--force", str(where)],
            cwd=project,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(where.parent, ignore_errors=True)


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"  {self.kind:<10} {self.name}{f'  ({self.detail})' if self.detail else ''}"


def _plan(tree: Path, stack: str) -> StackPlan:
    return plan_stack(settings.load(tree, stack), tree)


def changes(current: StackPlan, target: StackPlan) -> list[Change]:
    """What deploying ``target`` over ``current`` does, in the order it happens."""
    found: list[Change] = []
    now_jobs = {j.name for a in current.apps for j in a.all_jobs}
    then_jobs = {j.name for a in target.apps for j in a.all_jobs}
    found += [Change("job", n, "removed") for n in sorted(now_jobs - then_jobs)]
    found += [Change("job", n, "restored") for n in sorted(then_jobs - now_jobs)]
    now_rules = {r.name for a in current.apps for r in a.rules}
    then_rules = {r.name for a in target.apps for r in a.rules}
    found += [Change("rule", n, "removed") for n in sorted(now_rules - then_rules)]
    found += [Change("rule", n, "restored") for n in sorted(then_rules - now_rules)]
    now_fns = {s: p.hash for a in current.apps for s, p in a.functions.items()}
    then_fns = {s: p.hash for a in target.apps for s, p in a.functions.items()}
    for slug in sorted(now_fns.keys() | then_fns.keys()):
        if slug not in then_fns:
            found.append(Change("function", slug, "deleted"))
        elif slug not in now_fns:
            found.append(Change("function", slug, "restored"))
        elif now_fns[slug] != then_fns[slug]:
            found.append(Change("function", slug, "older code deployed"))
    then_versions = {f.version for a in target.apps for f in a.migrations}
    reverted = [f for a in current.apps for f in a.migrations if f.version not in then_versions]
    for file in sorted(reverted, key=lambda f: f.order, reverse=True):
        if file.down_sql is None:
            found.append(
                Change("migration", file.source, "NO DOWN FILE: the rollback will stop here")
            )
        else:
            risky = destructive(file.down_sql, file.down_source)
            found.append(
                Change(
                    "migration",
                    file.source,
                    "down file runs" + (", destructive: backed up first" if risky else ""),
                )
            )
    return found


def describe(project: Path, tree: Path, stack: str) -> list[Change]:
    return changes(_plan(project, stack), _plan(tree, stack))
