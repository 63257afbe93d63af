"""The offline applier's records: what it applied (type, name, id, outputs, the pickled provider
of a dynamic resource, which outputs are secret), kept between runs as Pulumi keeps state: the
secret outputs sealed with the stack's key (:mod:`supastack.local.sealed`), never in plaintext."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from supastack.private_files import append_private, write_private
from supastack.sealed import Sealer

Outputs = dict[str, Any]


def unkeyed(typ: str, name: str) -> str:
    """The key of a record written before URNs were recorded: its type and name."""
    return f"{typ}::{name}"


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
        return self.urn or unkeyed(self.typ, self.name)

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
    RecordsFile(path, sealer).save(applied)


Slot = tuple[str, bool]
"""A record's place: its key, and whether it is a replaced one waiting for deletion (which has
the key of its replacement)."""


def _slot(record: Applied) -> Slot:
    return record.key, record.delete


class RecordsFile:
    """The records as an update checkpoints them after every change, at a cost that grows with
    the change, not with the stack.

    Writing the whole file at every change (as the engine's file backend writes its snapshot)
    costs the whole stack each time: quadratic in resources (19.9 s of a 1,111-resource fresh
    deploy, ``bench/growth.py``). So a change is appended to a journal beside the file
    (``<name>.journal``, one JSON line: the records put, the places dropped), and the file is
    written whole only when the journal has grown as large as it (so all writes together stay
    linear in what changed) and at :meth:`compact`. :func:`load_records` replays the journal
    over the file (a line cut short by a crash is what a crash before the write would have
    lost). Each record is sealed and serialized once, when it first appears: records are
    replaced, never changed in place.
    """

    def __init__(self, path: Path, sealer: Sealer) -> None:
        self.path, self._sealer = path, sealer
        self.journal = journal_of(path)
        self._written: dict[Slot, tuple[Applied, str]] | None = None
        """What the file and journal hold, by place (None: not written in this run yet)."""
        self._file_bytes = 0
        self._journal_bytes = 0

    def save(self, applied: list[Applied]) -> None:
        current: dict[Slot, tuple[Applied, str]] = {}
        written = self._written or {}
        for record in applied:
            known = written.get(_slot(record))
            if known is None or known[0] is not record:
                known = (record, json.dumps(record.record(self._sealer)))
            current[_slot(record)] = known
        if self._written is None or len(current) != len(applied):
            self._rewrite(current)
            return
        put = [text for slot, (record, text) in current.items()
               if slot not in written or written[slot][0] is not record]  # fmt: skip
        drop = [list(slot) for slot in written if slot not in current]
        entry = '{"drop": ' + json.dumps(drop) + ', "put": [' + ", ".join(put) + "]}\n"
        if self._journal_bytes + len(entry) > self._file_bytes:
            self._rewrite(current)
            return
        if not self._journal_bytes:  # which file it continues: a stale one is never replayed
            entry = json.dumps({"base": _identity(self.path)}) + "\n" + entry
        append_private(self.journal, entry)
        self._journal_bytes += len(entry)
        self._written = current

    def compact(self) -> None:
        """Write the file whole and drop the journal (at the end of an update)."""
        if self._written is not None and self._journal_bytes:
            self._rewrite(self._written)

    def _rewrite(self, current: dict[Slot, tuple[Applied, str]]) -> None:
        text = "[" + ", ".join(text for _, text in current.values()) + "]"
        write_private(self.path, text)
        self.journal.unlink(missing_ok=True)
        self._written, self._file_bytes, self._journal_bytes = current, len(text), 0


def journal_of(path: Path) -> Path:
    return path.with_suffix(".journal")


def _identity(path: Path) -> list[int]:
    """The file as written (inode, size, modification time in ns): the file is replaced whole,
    never changed, so a journal begun after another write names another file."""
    stat = path.stat()
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _replayed(path: Path) -> list[dict[str, Any]]:
    """The file's records with its journal's changes applied, in order (a record put again
    keeps its place; a new one goes last)."""
    records = json.loads(path.read_text()) if path.exists() else []
    journal = journal_of(path)
    if not journal.exists():
        return list(records)
    by_slot = {_raw_slot(r): r for r in records}
    header, *lines = journal.read_text().splitlines() or [""]
    if not path.exists() or header != json.dumps({"base": _identity(path)}):
        return list(records)  # a journal of a file since written whole (a crash in between)
    for line in lines:
        try:
            change = json.loads(line)
        except json.JSONDecodeError:
            break  # cut short by a crash: the change was not recorded
        for key, delete in change["drop"]:
            by_slot.pop((key, delete), None)
        for record in change["put"]:
            by_slot[_raw_slot(record)] = record
    return list(by_slot.values())


def _raw_slot(record: dict[str, Any]) -> Slot:
    """:func:`_slot` of a record as written (``urn`` absent in records of an older applier)."""
    return record.get("urn") or unkeyed(record["typ"], record["name"]), bool(record.get("delete"))


def load_records(path: Path, sealer: Sealer) -> list[Applied]:
    """The records, their secrets opened (records written before secrets were sealed load as
    they are, and are sealed at the next save)."""
    known = {f.name for f in fields(Applied)}
    loaded = []
    for record in _replayed(path):
        record["outputs"] = sealer.open_all(record["outputs"])
        record["provider"] = sealer.open_all(record.get("provider"))
        record["secrets"] = tuple(record.get("secrets", ()))
        # a field a newer applier added is left out, so an older one can still read them
        loaded.append(Applied(**{k: v for k, v in record.items() if k in known}))
    return loaded
