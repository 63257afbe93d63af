"""The App component: everything one ``apps/<app>.yaml`` declares, in dependency order.

Migrations run after the database (extensions, the app's schema); access rules and realtime
membership come after the migrations that create the tables they name, functions after the
migrations and the secrets they use. Deleting resources runs
this order backwards, which is what makes deploying an older program a rollback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pulumi

from components.access import Access
from components.migrations import Migrations
from components.providers.edge_function import EdgeFunction
from components.providers.publication import PublicationTables
from supastack import packaging
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
    functions_root: Path
    """``functions/`` of the project (the app's functions are ``functions/<app>/<slug>/``)."""
    functions_url: str
    api: dict[str, Any]
    """The Management API (``url``, ``project_ref``) that deploys functions."""
    token: pulumi.Output[str]
    """The Management API token (a secret)."""
    secrets: pulumi.Resource | None
    """The function secrets, deployed before the functions that read them."""


class App(pulumi.ComponentResource):
    """One deployed system."""

    migrations: Migrations
    access: Access
    functions: dict[str, EdgeFunction]

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
                after_schema,
            )
        before_functions = [self.migrations, *([args["secrets"]] if args["secrets"] else [])]
        self.functions = {}
        for slug, spec in manifest.functions.items():
            package = packaging.package(
                args["functions_root"], manifest.app, slug, spec.config(), spec.verify_jwt
            )
            self.functions[slug] = EdgeFunction(
                f"{name}-fn-{slug}",
                {
                    "api": args["api"],
                    "token": args["token"],
                    "functions_url": args["functions_url"],
                    "app": manifest.app,
                    "slug": slug,
                    "hash": package.hash,
                    "verify_jwt": spec.verify_jwt,
                    "files": package.text_files(),
                },
                pulumi.ResourceOptions(parent=self, depends_on=before_functions),
            )
        self.register_outputs({"migrations": self.migrations.versions})
