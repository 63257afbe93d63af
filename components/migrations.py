"""The Migrations component: one Migration resource per file of an app, chained in order.

Each resource depends on the one before, so Pulumi applies them in version order and, when an
older program no longer has the newest files, deletes (reverts) them newest first. Lint
findings for the files that will run are shown as warnings during preview.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi

from components.providers.migrations.migration import Migration, MigrationProps
from supastack.config.settings import MigrationSettings
from supastack.migrations.files import MigrationFile
from supastack.migrations.review import review


class MigrationsArgs(TypedDict):
    """Inputs of :class:`Migrations`."""

    app: str
    schema: str
    """The app's schema (lint checks RLS on tables created there)."""
    files: list[MigrationFile]
    """The app's migration files in version order (``supastack.migrations.files``)."""
    conninfo: pulumi.Output[str]
    """The database connection string (a secret)."""
    settings: MigrationSettings
    backups: dict[str, Any] | None
    """Backup settings with the directory resolved, or None when backups are off."""
    protect: bool
    """Protect the migrations from deletion (no down migrations run on this stack)."""


class Migrations(pulumi.ComponentResource):
    """An app's migrations, applied in order."""

    versions: pulumi.Output[list[str]]
    """The versions this program deploys, in order."""

    def __init__(
        self, name: str, args: MigrationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:migrations:Migrations", name, {}, opts)
        files = args["files"]
        args["conninfo"].apply(lambda conninfo: self._warn(conninfo, args))
        previous: Migration | None = None
        for file in files:
            previous = Migration(
                f"{name}-{file.version}",
                MigrationProps.for_file(args["conninfo"], file, args["settings"], args["backups"]),
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[previous] if previous else [],
                    protect=args["protect"],
                    retain_on_delete=args["settings"].retain_on_delete,
                ),
            )
        self.versions = pulumi.Output.from_input([f.version for f in files])
        self.register_outputs({"versions": self.versions})

    def _warn(self, conninfo: str, args: MigrationsArgs) -> None:
        result = review(conninfo, args["app"], args["schema"], args["files"])
        if result.note:
            pulumi.log.info(result.note, resource=self)
        for finding in result.findings:
            log = pulumi.log.info if finding.info else pulumi.log.warn
            log(str(finding), resource=self)
