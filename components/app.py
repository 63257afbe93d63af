"""The App component: everything one ``apps/<app>.yaml`` declares, in dependency order.

Migrations run after the database (extensions, the app's schema); access rules and realtime
membership come after the migrations that create the tables they name. Deleting resources runs
this order backwards, which is what makes deploying an older program a rollback.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi

from components.access import Access
from components.migrations import Migrations
from components.providers.base import SECRET_OUTPUTS
from components.providers.publication import PublicationTables
from supastack.manifest import AppManifest
from supastack.migrations.files import MigrationFile
from supastack.publication import REALTIME
from supastack.settings import MigrationSettings


class AppArgs(TypedDict):
    """Inputs of :class:`App`."""

    manifest: AppManifest
    files: list[MigrationFile]
    conninfo: pulumi.Output[str]
    """The database connection string (a secret)."""
    database: str
    migration_settings: MigrationSettings
    backups: dict[str, Any] | None
    protect: bool


class App(pulumi.ComponentResource):
    """One deployed system."""

    migrations: Migrations
    access: Access

    def __init__(
        self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:app:App", name, {}, opts)
        manifest = args["manifest"]
        self.migrations = Migrations(
            f"{name}-migrations",
            {
                "app": manifest.app,
                "schema": manifest.schema_name,
                "files": args["files"],
                "conninfo": args["conninfo"],
                "settings": args["migration_settings"],
                "backups": args["backups"],
                "protect": args["protect"],
            },
            pulumi.ResourceOptions(parent=self),
        )
        after_schema = pulumi.ResourceOptions(parent=self, depends_on=[self.migrations])
        self.access = Access(
            f"{name}-access",
            {"manifest": manifest, "conninfo": args["conninfo"], "database": args["database"]},
            after_schema,
        )
        if manifest.realtime:
            PublicationTables(
                f"{name}-realtime",
                {
                    "conninfo": args["conninfo"],
                    "publication": REALTIME,
                    "tables": [[manifest.schema_name, table] for table in manifest.realtime],
                },
                pulumi.ResourceOptions.merge(
                    after_schema, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS)
                ),
            )
        self.register_outputs({"migrations": self.migrations.versions})
