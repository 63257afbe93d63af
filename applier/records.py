"""The offline applier's records: what it applied (type, name, id, outputs, the pickled provider
of a dynamic resource, which outputs are secret), kept between runs as Pulumi keeps state: the
secret outputs sealed with the stack's key (:mod:`supastack.local.sealed`), never in plaintext."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supastack.private_files import write_private
from supastack.sealed import Sealer

Outputs = dict[str, Any]


@dataclass
class Applied:
    typ: str
    name: str
    id: str
    outputs: Outputs = field(repr=False)
    provider: str | None = field(default=None, repr=False)
    """A dynamic resource's pickled provider: deletes run the code that created it."""
    secrets: tuple[str, ...] = ()
    """The outputs that are secret: as the engine decides (a secret input of the same name,
    ``additional_secret_outputs``, or secret by the provider's schema)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.typ, self.name)

    def record(self, sealer: Sealer) -> dict[str, Any]:
        return {
            "typ": self.typ, "name": self.name, "id": self.id,
            "outputs": sealer.seal_keys(self.outputs, self.secrets), "provider": self.provider,
            "secrets": list(self.secrets),
        }  # fmt: skip


#: What happened to a resource in a run.
CREATED, UPDATED, REPLACED, UNCHANGED, DELETED = (
    "created", "updated", "replaced", "unchanged", "deleted",
)  # fmt: skip


def save_records(path: Path, applied: list[Applied], sealer: Sealer) -> None:
    """The records as JSON, atomically, readable by the owner only, their secrets sealed."""
    write_private(path, json.dumps([a.record(sealer) for a in applied]))


def load_records(path: Path, sealer: Sealer) -> list[Applied]:
    """The records, their secrets opened (records written before secrets were sealed load as
    they are, and are sealed at the next save)."""
    if not path.exists():
        return []
    loaded = []
    for record in json.loads(path.read_text()):
        record["outputs"] = sealer.open_all(record["outputs"])
        record["secrets"] = tuple(record.get("secrets", ()))
        loaded.append(Applied(**record))
    return loaded
