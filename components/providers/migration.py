"""The Migration dynamic resource: one migration file, applied on create, reverted on delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack.config.settings import BackupSettings
from supastack.database.postgres import connect
from supastack.migrations import backups, history
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.states import BeforeRun, EngineOptions
from supastack.resource_props import MigrationProps


def _engine(migration: MigrationProps) -> MigrationEngine:
    return MigrationEngine(migration.conninfo, EngineOptions.of(migration.settings()))


def _before_run(migration: MigrationProps) -> BeforeRun | None:
    configured = migration.backups
    stack_backups = (
        backups.from_settings(
            BackupSettings.model_validate(configured), Path(configured["directory"])
        )
        if configured
        else None
    )
    return backups.before_destructive(
        stack_backups, migration.conninfo, migration.destructive, migration.down_destructive
    )


class MigrationProvider(DeclarativeProvider[MigrationProps]):
    """create applies the file, delete runs its down file; the SQL itself never changes."""

    props_type = MigrationProps
    replace_on = ("app", "version")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if olds and olds.get("checksum") not in (None, news.get("checksum")):
            return CheckResult(
                news,
                [
                    CheckFailure(
                        "checksum",
                        f"{news['source']} was edited after it was applied. Applied migrations "
                        "are immutable: restore the file from git and put the change in a new "
                        "migration file (or, to redo it, remove the file in one deploy, which "
                        "runs its down file, and add it back in the next).",
                    )
                ],
            )
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        migration = self.typed(props)
        outcome = _engine(migration).apply(migration.file(), _before_run(migration))
        return CreateResult(
            f"{migration.app}:{migration.version}",
            {**props, "backup_key": outcome.backup_key, "repaired": list(outcome.notes)},
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only settings, the down file or the connection changed: nothing to run."""
        return UpdateResult(
            {**news, "backup_key": olds.get("backup_key"), "repaired": olds.get("repaired", [])}
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        migration = self.typed(props)
        _engine(migration).revert(migration.file(), _before_run(migration))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """A migration reverted outside Pulumi is gone (the next deploy applies it again)."""
        migration = self.typed(props)
        with connect(migration.conninfo) as conn:
            rows = history.read(conn, migration.app)
        if not any(r.version == migration.version and r.app == migration.app for r in rows):
            return gone()
        return ReadResult(id_, props)


class Migration(Resource, module="migrations", name="Migration"):
    """One applied migration file."""

    version: pulumi.Output[str]
    checksum: pulumi.Output[str]
    backup_key: pulumi.Output[str | None]
    """The backup taken before this file ran (destructive files on stacks with backups)."""
    repaired: pulumi.Output[list[str]]
    """What the deploy repaired first (an INVALID index a failed concurrent build left)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            MigrationProvider(),
            name,
            {**props, "backup_key": None, "repaired": None},
            with_secret_outputs(opts, MigrationProvider.props_type),
        )
