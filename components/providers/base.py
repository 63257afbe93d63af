"""What every supastack dynamic provider shares: a diff over declared input keys."""

from __future__ import annotations

from typing import Any, ClassVar

from pulumi.dynamic import DiffResult, ReadResult, ResourceProvider

#: The inputs every provider receives that are secrets (also kept secret as outputs).
SECRET_OUTPUTS = ["conninfo", "token"]


class DeclarativeProvider(ResourceProvider):
    """Diff by comparing the inputs a subclass declares; some of them force a replacement."""

    inputs: ClassVar[tuple[str, ...]]
    replace_on: ClassVar[tuple[str, ...]] = ()

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in self.inputs if olds.get(key) != news.get(key)]
        return DiffResult(
            changes=bool(changed),
            replaces=[key for key in changed if key in self.replace_on],
            delete_before_replace=True,
        )


def gone() -> ReadResult:
    """What ``read`` answers for an object that no longer exists (refresh drops it)."""
    return ReadResult("", {})
