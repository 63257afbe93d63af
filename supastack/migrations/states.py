"""What the migration engine decides before any SQL runs: each migration's state against the
history (applied, pending, edited, out of order, file missing), why it refuses to go on, the
per-stack options, and the types its callers see (direction, outcome, the before-run hook).
Pure: no database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from supastack.config.settings import MigrationSettings
from supastack.database import sqltext
from supastack.migrations import history
from supastack.migrations.files import MigrationFile


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


#: Called under the lock just before a file runs; returns the key of a backup it took, if any.
BeforeRun = Callable[[MigrationFile, Direction], str | None]


@dataclass(frozen=True)
class EngineOptions:
    """Per-stack knobs (``supastack:migrations``)."""

    lock_timeout: str = "5s"
    statement_timeout: str = "5min"
    allow_out_of_order: bool = False
    deploy_lock_wait: str = "2min"

    @classmethod
    def of(cls, settings: MigrationSettings) -> EngineOptions:
        return cls(
            lock_timeout=settings.lock_timeout,
            statement_timeout=settings.statement_timeout,
            allow_out_of_order=settings.allow_out_of_order,
            deploy_lock_wait=settings.deploy_lock_wait,
        )


class State(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    EDITED = "edited"
    OUT_OF_ORDER = "out-of-order"
    FILE_MISSING = "file missing"


@dataclass(frozen=True)
class Entry:
    """One migration's state: a file, a history row, or both."""

    version: str
    name: str
    state: State
    file: MigrationFile | None
    applied: history.AppliedMigration | None


@dataclass(frozen=True)
class Outcome:
    """What :meth:`MigrationEngine.apply` or :meth:`~MigrationEngine.revert` did."""

    changed: bool
    backup_key: str | None = None
    notes: tuple[str, ...] = ()
    """What the engine repaired on the way (an INVALID index left by an earlier failed build)."""


def _same_statements(file: MigrationFile, row: history.AppliedMigration) -> bool:
    """For rows without a checksum (written by the Supabase CLI): compare the statements."""
    return row.statements == [s.text for s in sqltext.split(file.sql, file.source)]


def assess(
    app: str, files: Sequence[MigrationFile], rows: Sequence[history.AppliedMigration]
) -> list[Entry]:
    """The state of every migration of ``app``, in version order (pure: no database).

    ``rows`` are the app's history rows and the unclaimed ones (``history.read``); a version
    another app recorded is refused when the file's history row is written.
    """
    by_version = {r.version: r for r in rows}
    ours = {r.version for r in rows if r.app == app}
    latest = max((int(v) for v in ours), default=None)
    entries = []
    for file in files:
        row = by_version.get(file.version)
        if row is None:
            behind = latest is not None and file.order < latest
            state = State.OUT_OF_ORDER if behind else State.PENDING
        elif row.checksum == file.checksum or (
            row.checksum is None and _same_statements(file, row)
        ):
            state = State.APPLIED
        else:
            state = State.EDITED
        entries.append(Entry(file.version, file.name, state, file, row))
    known = {f.version for f in files}
    entries += [
        Entry(r.version, r.name or "", State.FILE_MISSING, None, r)
        for r in rows
        if r.app == app and r.version not in known
    ]
    return sorted(entries, key=lambda e: int(e.version))


def refusal(entry: Entry, options: EngineOptions) -> str | None:
    """Why the engine will not go on past this entry, or None."""
    if entry.state is State.EDITED:
        assert entry.file is not None
        return (
            f"{entry.file.source}: was edited after it was applied (checksum "
            f"{entry.file.checksum[:12]} differs from the recorded one). Applied migrations are "
            "immutable: restore the file from git and put the change in a new migration"
        )
    if entry.state is State.OUT_OF_ORDER and not options.allow_out_of_order:
        assert entry.file is not None
        return (
            f"{entry.file.source}: version {entry.version} sorts before the last applied "
            f"migration of app {entry.file.app!r}; give it a newer version, or set "
            "supastack:migrations.allowOutOfOrder for this stack"
        )
    if entry.state is State.FILE_MISSING:
        return (
            f"migration {entry.version}_{entry.name} is applied but its file is missing; "
            "check out the commit that has it, or revert it first"
        )
    return None
