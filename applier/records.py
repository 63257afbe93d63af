"""The offline applier's records: what it applied (type, name, id, outputs, the pickled provider
of a dynamic resource, which outputs are secret), kept between runs as Pulumi keeps state: the
secret outputs sealed with the stack's key (:mod:`supastack.local.sealed`), never in plaintext."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
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
    protect: bool = False
    """Kept in the state as the engine keeps it: a delete must see it after the program
    stopped registering the resource."""
    retain_on_delete: bool = False
    delete: bool = False
    """A replaced resource waiting for its deletion (created-before-replaced): the state's
    ``delete: true``, deleted at the end of the update, or at the start of the next one."""
    urn: str = ""
    """Its URN, as the engine keys its state (see :mod:`applier.options`)."""

    @property
    def key(self) -> str:
        """The URN (``<type>::<name>`` for a record written before URNs were, which its next
        registration takes over by type and name)."""
        return self.urn or f"{self.typ}::{self.name}"

    def record(self, sealer: Sealer) -> dict[str, Any]:
        return {
            "typ": self.typ, "name": self.name, "id": self.id,
            "outputs": sealer.seal_keys(self.outputs, self.secrets),
            # the SDK makes ``__provider`` a secret always (serialize_as_secret_always)
            "provider": None if self.provider is None else sealer.seal(self.provider),
            "secrets": list(self.secrets), "protect": self.protect,
            "retain_on_delete": self.retain_on_delete, "delete": self.delete, "urn": self.urn,
        }  # fmt: skip


#: What happened to a resource in a run.
CREATED, UPDATED, REPLACED, UNCHANGED, DELETED, IMPORTED = (
    "created", "updated", "replaced", "unchanged", "deleted", "imported",
)  # fmt: skip


def save_records(path: Path, applied: list[Applied], sealer: Sealer) -> None:
    """The records as JSON, atomically, readable by the owner only, their secrets sealed."""
    write_private(path, json.dumps([a.record(sealer) for a in applied]))


def load_records(path: Path, sealer: Sealer) -> list[Applied]:
    """The records, their secrets opened (records written before secrets were sealed load as
    they are, and are sealed at the next save)."""
    if not path.exists():
        return []
    known = {f.name for f in fields(Applied)}
    loaded = []
    for record in json.loads(path.read_text()):
        record["outputs"] = sealer.open_all(record["outputs"])
        record["provider"] = sealer.open_all(record.get("provider"))
        record["secrets"] = tuple(record.get("secrets", ()))
        # a field a newer applier added is left out, so an older one can still read them
        loaded.append(Applied(**{k: v for k, v in record.items() if k in known}))
    return loaded
