"""The Database component: extensions, one schema per app, and Postgres settings.

Extensions and settings are database-wide, so this component is built once per stack from the
union of the apps' manifests (two apps asking for different values of a setting is an error).
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi
import pulumi_postgresql as postgresql

from components.providers.base import SECRET_OUTPUTS
from components.providers.postgres_settings import PostgresSettings
from supastack.errors import SupastackError
from supastack.manifest import AppManifest, ExtensionSpec


class DatabaseArgs(TypedDict):
    """Inputs of :class:`Database`."""

    manifests: list[AppManifest]
    """The enabled apps; their extensions, schemas and settings are merged."""
    database: str
    """The database name (``postgres`` on Supabase)."""
    settings_target: dict[str, Any]
    """How settings reach the server (``components.providers.postgres_settings``)."""
    protect: bool


def merged_extensions(manifests: list[AppManifest]) -> list[ExtensionSpec]:
    """Each extension once; the same extension in two schemas or versions is an error."""
    chosen: dict[str, tuple[ExtensionSpec, str]] = {}
    for manifest in manifests:
        for extension in manifest.extensions:
            seen = chosen.setdefault(extension.name, (extension, manifest.source))
            if (seen[0].schema_name, seen[0].version) != (extension.schema_name, extension.version):
                raise SupastackError(
                    f"{manifest.source}: extensions: {extension.name} differs from {seen[1]}"
                )
    return [extension for extension, _ in chosen.values()]


def merged_settings(manifests: list[AppManifest]) -> dict[str, str]:
    values: dict[str, tuple[str, str]] = {}
    for manifest in manifests:
        for name, value in manifest.postgres_settings.items():
            seen = values.setdefault(name, (value, manifest.source))
            if seen[0] != value:
                raise SupastackError(
                    f"{manifest.source}: postgresSettings.{name}: {value!r} conflicts with "
                    f"{seen[0]!r} in {seen[1]}"
                )
    return {name: value for name, (value, _) in values.items()}


class Database(pulumi.ComponentResource):
    """The stack's database: what every app shares."""

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:database:Database", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self, protect=args["protect"])
        for extension in merged_extensions(args["manifests"]):
            postgresql.Extension(
                f"{name}-ext-{extension.name}",
                name=extension.name,
                schema=extension.schema_name,
                version=extension.version,
                database=args["database"],
                opts=child,
            )
        for manifest in args["manifests"]:
            postgresql.Schema(
                f"{name}-schema-{manifest.app}",
                name=manifest.schema_name,
                database=args["database"],
                opts=child,
            )
        settings = merged_settings(args["manifests"])
        if settings:
            PostgresSettings(
                f"{name}-settings",
                {**args["settings_target"], "values": settings},
                pulumi.ResourceOptions(parent=self, additional_secret_outputs=SECRET_OUTPUTS),
            )
        self.register_outputs({})
