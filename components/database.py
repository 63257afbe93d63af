"""The Database component: extensions, one schema per app, and Postgres settings.

Extensions and settings are database-wide, so this component is built once per stack from the
union of the apps' manifests, the stack's settings over theirs (two apps asking for different
values of a setting the stack does not set is an error).
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_postgresql as postgresql

from components.postgres_imports import imported
from components.providers.database.settings import PostgresSettings, PostgresSettingsProps
from supastack.config.manifest import AppManifest, merged_extensions, merged_settings
from supastack.config.settings import AdoptImports
from supastack.database.specs import PINNED_SCHEMAS, PLATFORM_SCHEMAS


class DatabaseArgs(TypedDict):
    """Inputs of :class:`Database`."""

    manifests: list[AppManifest]
    """The enabled apps; their extensions, schemas and settings are merged."""
    database: str
    """The database name (``postgres`` on Supabase)."""
    stack_settings: dict[str, str]
    """``supastack:postgresSettings``: the stack's values, over the apps'."""
    conninfo: pulumi.Output[str]
    """The database connection string (a secret)."""
    token: pulumi.Output[str] | None
    """The Management API token, where settings go through it (a secret)."""
    api: dict[str, Any] | None
    """The Management API (``url``, ``project_ref``), where settings go through it."""
    settings_target: dict[str, Any]
    """How settings reach the server (``Target.settings_props``)."""
    protect: bool
    imports: AdoptImports
    """The schemas and extensions adopt found live: imported (``supastack:adoptImports``)."""


class Database(pulumi.ComponentResource):
    """The stack's database: what every app shares."""

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:database:Database", name, {}, opts)
        # Settings first: applying them may restart the server (locally, and through the
        # Management API), which would cut off whatever else ran at that moment.
        settings = merged_settings(args["manifests"], args["stack_settings"])
        first = (
            [PostgresSettings(
                f"{name}-settings",
                PostgresSettingsProps.for_values(
                    args["conninfo"], args["token"], args["api"], args["settings_target"],
                    settings,
                ),
                pulumi.ResourceOptions(parent=self),
            )]
            if settings
            else []
        )  # fmt: skip
        child = pulumi.ResourceOptions(parent=self, protect=args["protect"], depends_on=first)
        homes: dict[str, pulumi.Resource] = {}
        database, adopted = args["database"], args["imports"]
        for extension in merged_extensions(args["manifests"]):
            home = extension.schema_name
            if home not in PLATFORM_SCHEMAS and home not in homes:
                # a schema of the extension's own (pg_partman's ``partman``)
                homes[home] = postgresql.Schema(
                    f"{name}-ext-schema-{home}",
                    name=home,
                    database=args["database"],
                    opts=pulumi.ResourceOptions.merge(
                        child, imported("schemas", home, database, adopted)
                    ),
                )
            postgresql.Extension(
                f"{name}-ext-{extension.name}",
                name=extension.name,
                schema=extension.schema_name,
                version=extension.version,
                database=args["database"],
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        depends_on=[homes[home]] if home in homes else [],
                        # all of pg_cron is in ``cron``: where it lives changes nothing, and it
                        # cannot move (a guide's, adopted in public, stays there)
                        ignore_changes=["schema"] if extension.name in PINNED_SCHEMAS else None,
                    ),
                ).merge(imported("extensions", extension.name, database, adopted)),
            )
        for manifest in args["manifests"]:
            if not manifest.owns_schema:
                continue
            postgresql.Schema(
                f"{name}-schema-{manifest.app}",
                name=manifest.schema_name,
                database=args["database"],
                opts=pulumi.ResourceOptions.merge(
                    child, imported("schemas", manifest.schema_name, database, adopted)
                ),
            )
        self.register_outputs({})
