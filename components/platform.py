"""The Platform: everything one stack deploys, and the stack outputs smoke tests read.

It connects to the stack's database (one pulumi-postgresql provider, handed to every child),
builds the shared Database and one App per enabled ``apps/<app>.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_postgresql as postgresql

from components.app import App
from components.database import Database
from components.stack_config import secret
from supastack import connection
from supastack.backups import backup_directory
from supastack.local.credentials import LocalCredentials
from supastack.local.paths import StatePaths
from supastack.manifest import load_app
from supastack.migrations.files import discover
from supastack.settings import StackSettings, Target

#: The Postgres major version supastack deploys to (pulumi-postgresql needs it stated).
POSTGRES_VERSION = "15"


class PlatformArgs(TypedDict):
    """Inputs of :class:`Platform`."""

    settings: StackSettings
    """The validated stack settings (see ``supastack.settings``)."""
    project_dir: Path
    """The project directory: ``apps/``, ``migrations/`` and the local state are found from it."""


def _backups(stack: StackSettings, project_dir: Path) -> dict[str, Any] | None:
    """The backup settings for the Migration resources, with the directory made absolute."""
    if not stack.backups.enabled:
        return None
    state_dir = stack.local.state_path(project_dir)
    directory = backup_directory(stack.backups, project_dir, state_dir)
    return {**stack.backups.model_dump(by_alias=True), "directory": str(directory)}


def _settings_target(
    stack: StackSettings, project_dir: Path, conninfo: pulumi.Output[str]
) -> dict[str, Any]:
    """Where Postgres settings go: ALTER SYSTEM locally, the Management API on Supabase."""
    if stack.target is Target.LOCAL:
        return {
            "conninfo": conninfo,
            "token": None,
            "target": "local",
            "local": {
                "state_dir": str(stack.local.state_path(project_dir)),
                "port": stack.local.db_port,
            },
            "api": None,
        }
    return {
        "conninfo": conninfo,
        "token": secret("accessToken"),
        "target": "supabase",
        "local": None,
        "api": {"url": stack.management_api_url, "project_ref": stack.project_ref},
    }


class Platform(pulumi.ComponentResource):
    """One stack's deployment: its database, its apps, and where they answer."""

    database_host: pulumi.Output[str]
    database_port: pulumi.Output[int]
    functions_url: pulumi.Output[str]
    db_password: pulumi.Output[str]
    """The database password, as a Pulumi secret."""
    apps: dict[str, App]

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:platform:Platform", name, {}, opts)
        stack, project_dir = args["settings"], args["project_dir"]
        if stack.target is Target.LOCAL:
            state = StatePaths(stack.local.state_path(project_dir))
            creds = LocalCredentials.load(state.credentials)
            self.db_password = pulumi.Output.secret(creds.db_password)
        else:
            self.db_password = secret("dbPassword")
        host, port, sslmode = connection.endpoint(stack)
        conninfo = self.db_password.apply(lambda password: connection.conninfo(stack, password))
        provider = postgresql.Provider(
            f"{name}-postgres",
            host=host,
            port=port,
            database=stack.database.name,
            username=stack.database.user,
            password=self.db_password,
            sslmode=sslmode,
            superuser=stack.target is Target.LOCAL,  # Supabase's postgres role is no superuser
            expected_version=POSTGRES_VERSION,
            opts=pulumi.ResourceOptions(parent=self),
        )
        manifests = [load_app(project_dir, app) for app in stack.deployed_apps]
        files = discover(project_dir / "migrations", stack.deployed_apps)
        with_db = pulumi.ResourceOptions(parent=self, providers=[provider])
        database = Database(
            f"{name}-database",
            {
                "manifests": manifests,
                "database": stack.database.name,
                "settings_target": _settings_target(stack, project_dir, conninfo),
                "protect": stack.protect,
            },
            with_db,
        )
        self.apps = {
            manifest.app: App(
                f"{name}-{manifest.app}",
                {
                    "manifest": manifest,
                    "files": files[manifest.app],
                    "conninfo": conninfo,
                    "database": stack.database.name,
                    "migration_settings": stack.migrations,
                    "backups": _backups(stack, project_dir),
                    "protect": stack.protect,
                },
                pulumi.ResourceOptions.merge(
                    with_db, pulumi.ResourceOptions(depends_on=[database])
                ),
            )
            for manifest in manifests
        }
        self.database_host = pulumi.Output.from_input(host)
        self.database_port = pulumi.Output.from_input(port)
        self.functions_url = pulumi.Output.from_input(stack.functions_url)
        self.register_outputs(
            {
                "databaseHost": self.database_host,
                "databasePort": self.database_port,
                "functionsUrl": self.functions_url,
            }
        )
