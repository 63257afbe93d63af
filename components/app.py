"""The App component: everything one ``apps/<app>.yaml`` declares, in dependency order.

Migrations run after the database (extensions, the app's schema); access rules and realtime
membership come after the migrations that create the tables they name, feature flags after the
platform's tables (the App waits for the apps it uses), functions after the migrations, the
secrets and the flags they use, seed data (on stacks that seed) after the migrations and
access rules, partitioned tables (pg_partman) and scheduled refreshes of materialized views
after the migrations that create them, each maintenance job after its table's registration.
Deleting resources runs this order backwards, which is what makes deploying an older program a
rollback.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi

from components.access import Access
from components.migrations import Migrations
from components.providers.database.matviews import (
    MaterializedViewRefresh,
    MaterializedViewRefreshProps,
)
from components.providers.database.partitions import PartitionSet, PartitionSetProps
from components.providers.database.publication import PublicationTables, PublicationTablesProps
from components.providers.flags.feature_flags import FeatureFlag, FeatureFlagProps
from components.providers.functions.edge_function import EdgeFunction, EdgeFunctionProps
from components.providers.migrations.seeds import SeedData, SeedDataProps
from components.providers.operations.alerts import AlertRule, AlertRuleProps
from components.providers.operations.cron import CronJob, CronJobProps
from supastack.config.settings import AdoptImports, MigrationSettings
from supastack.database.publication import REALTIME
from supastack.operations.cron import Job
from supastack.plan.stack import AppPlan


class AppArgs(TypedDict):
    """Inputs of :class:`App`."""

    plan: AppPlan
    """The app's manifest, migration files, packaged functions and jobs, all checked."""
    conninfo: pulumi.Output[str]
    """The database connection string (a secret)."""
    database: str
    migration_settings: MigrationSettings
    backups: dict[str, Any] | None
    protect: bool
    adopt: bool
    """Take over live objects that match (``supastack:adopt``, one deploy)."""
    adopt_replaces: frozenset[str]
    """Hand-made cron jobs adopt's review accepted replacing (``supastack:adoptReplaces``)."""
    adopt_imports: AdoptImports
    """Live roles adopt listed for import (``supastack:adoptImports``)."""
    functions_url: str
    api: dict[str, Any]
    """The Management API (``url``, ``project_ref``) that deploys functions."""
    token: pulumi.Output[str]
    """The Management API token (a secret)."""
    secrets: pulumi.Resource | None
    """The secrets (function and Vault), deployed before the functions and jobs that read them."""
    cron_conninfo: pulumi.Output[str]
    """The connection string of the database pg_cron runs in (a secret)."""
    alert_channels: list[pulumi.Resource]
    """The stack's alert channels, which the app's rules notify."""


class App(pulumi.ComponentResource):
    """One deployed system."""

    migrations: Migrations
    access: Access
    functions: dict[str, EdgeFunction]

    def __init__(
        self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:app:App", name, {}, opts)
        manifest = args["plan"].manifest
        self.migrations = Migrations(
            f"{name}-migrations",
            {
                "app": manifest.app,
                "schema": manifest.schema_name,
                "files": args["plan"].migrations,
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
            {
                "manifest": manifest,
                "conninfo": args["conninfo"],
                "database": args["database"],
                "adopt": args["adopt"],
                "imports": args["adopt_imports"],
            },
            after_schema,
        )
        if manifest.realtime:
            PublicationTables(
                f"{name}-realtime",
                PublicationTablesProps.for_tables(
                    args["conninfo"], REALTIME, manifest.schema_name, manifest.realtime
                ),
                after_schema,
            )
        # a function never runs before the flags it asks exist as the stack sets them
        flags = [
            FeatureFlag(
                f"{name}-flag-{flag.name}",
                FeatureFlagProps.for_flag(args["conninfo"], flag),
                pulumi.ResourceOptions(parent=self),
            )
            for flag in args["plan"].flags
        ]
        before_functions = [
            self.migrations,
            *flags,
            *([args["secrets"]] if args["secrets"] else []),
        ]
        self.functions = {}
        for slug, package in args["plan"].functions.items():
            self.functions[slug] = EdgeFunction(
                f"{name}-fn-{slug}",
                EdgeFunctionProps.for_package(
                    args["api"],
                    args["token"],
                    args["functions_url"],
                    package,
                    manifest.functions[slug].verify_jwt_off_reason,
                    adopt=args["adopt"],
                ),
                pulumi.ResourceOptions(parent=self, depends_on=before_functions),
            )
        for job in args["plan"].jobs:
            self._cron_job(name, args, job, [*before_functions, *self.functions.values()])
        partition_sets: list[pulumi.Resource] = []
        for planned in args["plan"].partitions:
            table = planned.partitions
            registered = PartitionSet(
                f"{name}-partitions-{table.table}",
                PartitionSetProps.for_partitions(args["conninfo"], table),
                # after the grants: a schema-wide grant would reach partitions made before it
                pulumi.ResourceOptions(parent=self, depends_on=[self.migrations, self.access]),
            )
            self._cron_job(name, args, planned.maintenance, [registered])
            partition_sets.append(registered)
        for refresh in args["plan"].refreshes:
            job = refresh.job
            MaterializedViewRefresh(
                f"{name}-cron-{job.name}",
                MaterializedViewRefreshProps.for_refresh(
                    args["cron_conninfo"],
                    args["conninfo"],
                    source=manifest.source,
                    refresh=refresh.refresh,
                    job=job,
                    adopt=args["adopt"],
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[self.migrations]),
            )
        for rule in args["plan"].rules:
            AlertRule(
                f"{name}-alert-{rule.name}",
                AlertRuleProps.for_rule(args["conninfo"], rule),
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.migrations, *self.functions.values(), *args["alert_channels"]],
                ),
            )
        for seed in args["plan"].seeds:
            SeedData(
                f"{name}-seed-{seed.name.removesuffix('.sql')}",
                SeedDataProps.for_seed(args["conninfo"], seed),
                pulumi.ResourceOptions(
                    parent=self, depends_on=[self.migrations, self.access, *partition_sets]
                ),
            )
        self.register_outputs({"migrations": self.migrations.versions})

    def _cron_job(
        self, name: str, args: AppArgs, job: Job, after: list[pulumi.Resource]
    ) -> CronJob:
        return CronJob(
            f"{name}-cron-{job.name}",
            CronJobProps.for_job(
                args["cron_conninfo"], job, args["adopt"], job.name in args["adopt_replaces"]
            ),
            pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    @property
    def used(self) -> list[pulumi.Resource]:
        """What an app that uses this one waits for: its migrations, its grants (which write
        the catalog rows of the objects the other app's migrations may grant on too) and its
        functions."""
        return [self.migrations, self.access, *self.functions.values()]
