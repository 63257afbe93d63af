"""A rollout step as a stack update: the flag set in the stack file (``Pulumi.<stack>.yaml``,
comments and layout kept), optionally committed, then the stack updated.

That is what ``pulumi config set --path`` and ``pulumi up`` would do, so the stack file says
what the stack runs, and with ``commit`` each update's recorded git commit holds the config it
ran with: rolling the stack back to an update restores the flag as it was there. ruamel.yaml
round-trips the file (:mod:`supastack.config.stack_file`).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from supastack.config import settings
from supastack.config.stack_file import edit_config
from supastack.errors import SupastackError
from supastack.targets import StackTarget

KEY = f"{settings.NAMESPACE}:flags"


def set_rollout(path: Path, flag: str, percentage: Decimal) -> None:
    """Turn the flag on at ``percentage`` (its allow-list stays)."""

    def edit(config: CommentedMap) -> None:
        flags = config.setdefault(KEY, CommentedMap())
        entry = flags.setdefault(flag, CommentedMap())
        if not isinstance(entry, CommentedMap):
            raise SupastackError(f"{path.name}: {KEY}.{flag}: expected a mapping")
        entry["enabled"] = True
        entry["percentage"] = (
            int(percentage) if percentage == percentage.to_integral() else float(percentage)
        )

    edit_config(path, edit)


@dataclass(frozen=True)
class StackFileUpdate:
    """One rollout step (a :class:`supastack.flags.rollout.StackUpdate`)."""

    target: StackTarget
    flag: str
    commit: bool = False

    @property
    def path(self) -> Path:
        return settings.stack_file(self.target.project_dir, self.target.stack.stack)

    def __call__(self, percentage: Decimal, message: str) -> None:
        set_rollout(self.path, self.flag, percentage)
        settings.load(self.target.project_dir, self.target.stack.stack)  # still a valid file
        project = self.target.project_dir
        if self.commit:
            committed = subprocess.run(
                ["git", "commit", "--quiet", "--message", message, "--", self.path.name],
                cwd=project, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if committed.returncode != 0:
                why = (committed.stderr or committed.stdout).strip()
                raise SupastackError(f"git commit of {self.path.name} failed: {why}")
        # refresh: a flag edited by hand in the database is put back by the same update
        code = self.target.deploy(message=message, refresh=True)
        if code != 0:
            raise SupastackError(f"the stack update ({self.target.engine().label}) exited {code}")
