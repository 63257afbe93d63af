"""The Platform: everything one stack deploys, and the stack outputs smoke tests read.

It connects to the stack's database (one pulumi-postgresql provider, handed to every child),
builds the shared Database and one App per enabled ``apps/<app>.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_postgresql as postgresql
from psycopg.conninfo import make_conninfo

from components.app import App
from components.database import Database
from components.outputs import stack_outputs
from components.providers.database.exposed_schemas import ExposedSchemas, ExposedSchemasProps
from components.providers.database.project_settings import ProjectSetting, ProjectSettingProps
from components.providers.database.realtime import RealtimeConfig, RealtimeConfigProps
from components.providers.operations.alerts import AlertChannel, AlertChannelProps
from components.secrets import Secrets
from components.stack_config import StackCredentials, secret_object
from supastack.config.manifest import merged_realtime_config
from supastack.config.settings import MONITORING_APP, AdoptImports, StackSettings
from supastack.database import advisors
from supastack.migrations.backups import backup_directory
from supastack.operations.cron import FUNCTIONS_URL_SECRET
from supastack.plan.stack import StackPlan
from supastack.targets import connection, target_for

#: The Postgres major version supastack deploys to (pulumi-postgresql needs it stated).
POSTGRES_VERSION = "15"


class PlatformArgs(TypedDict):
    """Inputs of :class:`Platform`: everything read from disk and config, before it is built."""

    settings: StackSettings
    """The validated stack settings (see ``supastack.config.settings``)."""
    project_dir: Path
    """The project directory: the local state and backups are found from it."""
    plan: StackPlan
    """The apps, migrations, functions, jobs and rules, all checked (``supastack.plan.stack``)."""
    credentials: StackCredentials
    """The database password, Management API token and keys, as secrets."""


def _backups(stack: StackSettings, project_dir: Path) -> dict[str, Any] | None:
    """The backup settings for the Migration resources, with the directory made absolute."""
    if not stack.backups.enabled:
        return None
    state_dir = stack.local.state_path(project_dir)
    directory = backup_directory(stack.backups, project_dir, state_dir)
    return {**stack.backups.model_dump(by_alias=True), "directory": str(directory)}


class Platform(pulumi.ComponentResource):
    """One stack's deployment: its database, its apps, and where they answer."""

    database_host: pulumi.Output[str]
    database_port: pulumi.Output[int]
    functions_url: pulumi.Output[str]
    db_password: pulumi.Output[str]
    """The database password, as a Pulumi secret."""
    apps: dict[str, App]
    """The deployed apps by name, the platform's own first."""
    outputs: dict[str, Any]
    """The stack outputs (``supastack.delivery.outputs.StackOutputs``), for ``pulumi.export``."""

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:platform:Platform", name, {}, opts)
        stack, project_dir, plan = args["settings"], args["project_dir"], args["plan"]
        credentials = args["credentials"]
        target = target_for(stack, project_dir)
        self.db_password = credentials.db_password
        token, keys, api = credentials.access_token, credentials.keys, credentials.api
        host, port, sslmode = target.database_endpoint()
        conninfo = self.db_password.apply(lambda password: connection.conninfo(stack, password))
        provider = postgresql.Provider(
            f"{name}-postgres",
            host=host,
            port=port,
            database=stack.database.name,
            username=stack.database.user,
            password=self.db_password,
            sslmode=sslmode,
            superuser=target.deploys_as_superuser,
            expected_version=POSTGRES_VERSION,
            opts=pulumi.ResourceOptions(parent=self),
        )
        with_db = pulumi.ResourceOptions(parent=self, providers=[provider])
        imports = stack.adopt_imports if stack.adopt else AdoptImports()
        database = Database(
            f"{name}-database",
            {
                "manifests": plan.manifests,
                "database": stack.database.name,
                "stack_settings": stack.postgres_settings,
                "conninfo": conninfo,
                "token": None if target.is_local else token,
                "api": None if target.is_local else api,
                "settings_target": target.settings_props(),
                "protect": stack.protect,
                "imports": imports,
            },
            with_db,
        )
        secrets = Secrets(
            f"{name}-secrets",
            {
                "specs": plan.secrets,
                "provided": secret_object("secretValues") if stack.secret_values_set else None,
                "provided_names": stack.secret_values_set,
                "api": api,
                "token": token,
                "conninfo": conninfo,
                "drains": stack.log_drains,
                "vault_values": (
                    {FUNCTIONS_URL_SECRET: target.functions_url} if plan.calls_functions else {}
                ),
                "target_values": credentials.target_secrets,
            },
            # Vault secrets are written into the database, whose settings may restart it
            pulumi.ResourceOptions(parent=self, depends_on=[database]),
        )
        if pulumi.runtime.is_dry_run():  # what `supastack db advisors` finds, in the preview
            conninfo.apply(self._report_advisors)
        cron_conninfo = conninfo.apply(
            lambda value: make_conninfo(value, dbname=stack.database.cron_database)
        )
        if plan.exposed_schemas and target.configures_project_services:
            ExposedSchemas(
                f"{name}-exposed-schemas",
                ExposedSchemasProps.for_schemas(api, token, plan.exposed_schemas),
                pulumi.ResourceOptions(parent=self, depends_on=[database]),
            )
        project = stack.project.managed() if stack.project else {}
        if project and target.configures_project_services:
            for kind, value in project.items():
                ProjectSetting(
                    f"{name}-project-{kind.replace('_', '-')}",
                    ProjectSettingProps.for_setting(api, token, kind, value),
                    pulumi.ResourceOptions(parent=self),
                )
        elif project:
            pulumi.log.info(
                f"supastack:project ({', '.join(project)}) applies to Supabase projects only: the "
                "local target has no pooler, TLS or network edge",
                resource=self,
            )
        realtime = merged_realtime_config(plan.manifests)
        if realtime and target.configures_project_services:
            RealtimeConfig(
                f"{name}-realtime-config",
                RealtimeConfigProps.for_limits(api, token, realtime),
                pulumi.ResourceOptions(parent=self),
            )
        elif realtime:
            pulumi.log.info(
                f"realtimeConfig {realtime} applies to Supabase only: the local target has no "
                "Realtime server",
                resource=self,
            )
        # The platform's own apps come first; the alert channels live in their tables and every
        # other app's rules notify them.
        self.apps = {}
        channels: list[pulumi.Resource] = []
        for planned in plan.apps:
            app = App(
                f"{name}-{planned.manifest.app}",
                {
                    "plan": planned,
                    "conninfo": conninfo,
                    "database": stack.database.name,
                    "migration_settings": stack.migrations,
                    "backups": _backups(stack, project_dir),
                    "protect": stack.protect,
                    "adopt": stack.adopt,
                    "adopt_replaces": frozenset(stack.adopt_replaces),
                    "adopt_imports": imports,
                    "functions_url": target.functions_url,
                    "api": api,
                    "token": token,
                    "secrets": secrets,
                    "cron_conninfo": cron_conninfo,
                    "alert_channels": channels,
                },
                pulumi.ResourceOptions.merge(
                    with_db,
                    pulumi.ResourceOptions(
                        depends_on=[database, *(r for u in planned.uses for r in self.apps[u].used)]
                    ),
                ),
            )
            self.apps[planned.manifest.app] = app
            if planned.manifest.app == MONITORING_APP:
                channels = [
                    AlertChannel(
                        f"{name}-channel-{channel.name}",
                        AlertChannelProps.for_channel(conninfo, channel),
                        pulumi.ResourceOptions(parent=self, depends_on=[app, secrets]),
                    )
                    for channel in plan.channels
                ]
        self.database_host = pulumi.Output.from_input(host)
        self.database_port = pulumi.Output.from_input(port)
        self.functions_url = pulumi.Output.from_input(target.functions_url)
        self.outputs = stack_outputs(
            stack,
            plan,
            functions_url=target.functions_url,
            apps=self.apps,
            database_url=self.db_password.apply(lambda password: connection.url(stack, password)),
            management_api={**api, "token": token},
            keys=keys,
        )
        self.register_outputs(self.outputs)

    def _report_advisors(self, conninfo: str) -> None:
        for line in advisors.preview_report(conninfo):
            pulumi.log.warn(line, resource=self)
