"""The Migration dynamic resource: one migration file, applied on create, reverted on delete."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult
from pydantic import Field

from components.providers.base import TypedProvider, TypedResource
from supastack.config.settings import BackupSettings, MigrationSettings
from supastack.database.postgres import connect
from supastack.migrations import backups, history
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import MigrationFile
from supastack.migrations.lint import destructive
from supastack.migrations.states import BeforeRun, EngineOptions
from supastack.resource_props import Deferred, OnDatabase


class MigrationProps(OnDatabase):
    app: str
    version: str
    name: str
    source: str
    checksum: str
    sql: str = Field(repr=False)
    down_sql: str | None = Field(default=None, repr=False)
    destructive: bool
    down_destructive: bool
    options: dict[str, Any]
    backups: dict[str, Any] | None = None

    @classmethod
    def for_file(
        cls, conninfo: Deferred[str], file: MigrationFile, settings: MigrationSettings,
        backups: dict[str, Any] | None,
    ) -> Self:  # fmt: skip
        """A file's props; whether it (or its down file) destroys data is decided here, once."""
        return cls.declared(
            conninfo=conninfo, app=file.app, version=file.version, name=file.name,
            source=file.source, checksum=file.checksum, sql=file.sql, down_sql=file.down_sql,
            destructive=destructive(file.sql, file.source),
            down_destructive=bool(file.down_sql)
            and destructive(file.down_sql or "", file.down_source),
            options=settings.model_dump(by_alias=True), backups=backups,
        )  # fmt: skip

    def file(self) -> MigrationFile:
        return MigrationFile(
            self.app, self.version, self.name, self.source, self.sql, self.down_sql
        )

    def settings(self) -> MigrationSettings:
        return MigrationSettings.model_validate(self.options)


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


class MigrationProvider(TypedProvider[MigrationProps]):
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

    def identify(self, props: MigrationProps) -> str:
        return f"{props.app}:{props.version}"

    def put(self, props: MigrationProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        """Create applies the file; an update (only settings, the down file or the connection
        changed) runs nothing and keeps what the apply recorded."""
        if before is not None:
            return {"backup_key": before.get("backup_key"), "repaired": before.get("repaired", [])}
        outcome = _engine(props).apply(props.file(), _before_run(props))
        return {"backup_key": outcome.backup_key, "repaired": list(outcome.notes)}

    def remove(self, props: MigrationProps) -> None:
        _engine(props).revert(props.file(), _before_run(props))

    def observe(self, props: MigrationProps, recorded: Mapping[str, Any]) -> dict[str, Any] | None:
        """A migration reverted outside Pulumi is gone (the next deploy applies it again)."""
        with connect(props.conninfo) as conn:
            rows = history.read(conn, props.app)
        if not any(r.version == props.version and r.app == props.app for r in rows):
            return None
        return {}


class Migration(TypedResource[MigrationProps], module="migrations", name="Migration"):
    """One applied migration file."""

    provider_type = MigrationProvider
    outputs = ("backup_key", "repaired")

    version: pulumi.Output[str]
    checksum: pulumi.Output[str]
    backup_key: pulumi.Output[str | None]
    """The backup taken before this file ran (destructive files on stacks with backups)."""
    repaired: pulumi.Output[list[str]]
    """What the deploy repaired first (an INVALID index a failed concurrent build left)."""
