"""What a reviewer should see about an app's migrations: their states and the lint findings of
the ones that will run. Shared by ``supastack db status`` and the preview warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from supastack.errors import SupastackError
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import MigrationFile
from supastack.migrations.lint import Finding, lint
from supastack.migrations.states import Entry, State


@dataclass(frozen=True)
class Review:
    entries: list[Entry]
    """Empty when the database could not be read."""
    findings: list[Finding]
    note: str | None = None


def review(conninfo: str, app: str, schema: str, files: Sequence[MigrationFile]) -> Review:
    """States from the database, and lint findings for the files not yet applied.

    When the database cannot be reached (a first deploy, a preview without network) every
    file is linted, so nothing that will run goes unreviewed.
    """
    try:
        entries = MigrationEngine(conninfo).status(app, files)
    except SupastackError as exc:
        return Review([], lint(files, schema), f"{exc}; linted every migration of {app}")
    pending = [e.file for e in entries if e.file is not None and e.state is not State.APPLIED]
    return Review(entries, lint(pending, schema, context=files))
