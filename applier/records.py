"""The offline applier's records: what it applied (type, name, id, outputs, the pickled provider
of a dynamic resource), kept between runs as Pulumi keeps state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supastack.private_files import write_private

Outputs = dict[str, Any]


@dataclass
class Applied:
    typ: str
    name: str
    id: str
    outputs: Outputs = field(repr=False)
    provider: str | None = field(default=None, repr=False)
    """A dynamic resource's pickled provider: deletes run the code that created it."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.typ, self.name)

    def record(self) -> dict[str, Any]:
        return {
            "typ": self.typ, "name": self.name, "id": self.id, "outputs": self.outputs,
            "provider": self.provider,
        }  # fmt: skip


#: What happened to a resource in a run.
CREATED, UPDATED, REPLACED, UNCHANGED, DELETED = (
    "created", "updated", "replaced", "unchanged", "deleted",
)  # fmt: skip


def save_records(path: Path, applied: list[Applied]) -> None:
    """The records as JSON, atomically, readable by the owner only (they hold the database
    password and the Management API token, like the credentials beside them)."""
    write_private(path, json.dumps([a.record() for a in applied]))


def load_records(path: Path) -> list[Applied]:
    if not path.exists():
        return []
    return [Applied(**record) for record in json.loads(path.read_text())]
