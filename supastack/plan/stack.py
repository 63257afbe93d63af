"""Everything a stack will deploy, read and checked before any resource is declared.

The program builds this first, so a broken manifest, a missing secret, a bad schedule, a
function that does not package or a migration file that does not fit fails the preview with
a message naming the file and key, and nothing at all is applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from supastack.config.manifest import (
    AppManifest,
    available_apps,
    check_cron_tokens,
    load_app,
    merged_secrets,
)
from supastack.config.settings import StackSettings
from supastack.database.matviews import Refresh
from supastack.database.partitions import PartitionSet, maintenance_command
from supastack.errors import SupastackError
from supastack.flags.store import Flag, plan_flags
from supastack.functions.packaging import FunctionPackage, package
from supastack.functions.specs import SecretSpec
from supastack.migrations.files import MigrationFile, discover
from supastack.migrations.seeds import SeedFile
from supastack.migrations.seeds import discover as discover_seeds
from supastack.operations.alerts import Channel, Rule, channel_of, plan_rules
from supastack.operations.cron import Job, plan_jobs, validate_schedule
from supastack.plan.graph import check_shared_names, deployment_order, uses
from supastack.targets import target_for


@dataclass(frozen=True)
class PartitionPlan:
    """A partitioned table and the pg_cron job that runs its maintenance."""

    partitions: PartitionSet
    maintenance: Job


@dataclass(frozen=True)
class RefreshPlan:
    """A materialized view and the pg_cron job that refreshes it."""

    refresh: Refresh
    job: Job


def plan_partitions(manifest: AppManifest, pg_cron: str, database: str) -> list[PartitionPlan]:
    plans = []
    for spec in manifest.partitions:
        partitions = PartitionSet(
            manifest.schema_name, spec.table, spec.control, spec.interval, spec.premake,
            spec.retention, spec.retention_mode == "detach",
        )  # fmt: skip
        name = f"partman-{manifest.schema_name}-{spec.table}"
        schedule = validate_schedule(spec.maintenance, pg_cron, name)
        job = Job(name, schedule, maintenance_command(partitions), database)
        plans.append(PartitionPlan(partitions, job))
    return plans


def plan_refreshes(manifest: AppManifest, pg_cron: str, database: str) -> list[RefreshPlan]:
    plans = []
    for spec in manifest.materialized_views:
        refresh = Refresh(manifest.schema_name, spec.view, spec.concurrently)
        name = f"refresh-{manifest.schema_name}-{spec.view}"
        schedule = validate_schedule(spec.schedule, pg_cron, name)
        plans.append(RefreshPlan(refresh, Job(name, schedule, refresh.command, database)))
    return plans


@dataclass(frozen=True)
class AppPlan:
    manifest: AppManifest
    migrations: list[MigrationFile]
    functions: dict[str, FunctionPackage]
    jobs: list[Job]
    rules: list[Rule]
    uses: tuple[str, ...] = ()
    """The apps this app's resources wait for (``supastack.plan.graph.uses``)."""
    seeds: list[SeedFile] = field(default_factory=list)
    """Its seed files, on stacks that seed."""
    partitions: list[PartitionPlan] = field(default_factory=list)
    refreshes: list[RefreshPlan] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    """Its feature flags as the stack sets them."""

    @property
    def all_jobs(self) -> list[Job]:
        """The manifest's jobs and those supastack schedules for partitions and views."""
        return [
            *self.jobs,
            *(p.maintenance for p in self.partitions),
            *(r.job for r in self.refreshes),
        ]


@dataclass(frozen=True)
class StackPlan:
    apps: list[AppPlan]
    secrets: list[SecretSpec]
    channels: list[Channel]

    @property
    def manifests(self) -> list[AppManifest]:
        return [a.manifest for a in self.apps]

    @property
    def exposed_schemas(self) -> list[str]:
        """The schemas the apps expose to the Data API, each once, in app order."""
        return list(dict.fromkeys(s for a in self.apps for s in a.manifest.exposed_schemas))

    @property
    def calls_functions(self) -> bool:
        """Whether a job calls a function (then SQL needs the functions' URL from Vault)."""
        return any(job.function for a in self.apps for job in a.manifest.cron)


def plan_stack(stack: StackSettings, project_dir: Path) -> StackPlan:
    """Load and check the apps the stack deploys, each after the apps it uses."""
    manifests = deployment_order(
        [load_app(project_dir, app) for app in stack.deployed_apps],
        stack.stack,
        available_apps(project_dir),
    )
    files = discover(project_dir / "migrations", stack.deployed_apps)
    check_shared_names(manifests, files)
    channel_secrets = [c.secret for c in stack.alert_channels.values()]
    target = target_for(stack, project_dir)
    secrets = target.secrets(merged_secrets(stack.function_secrets, manifests, channel_secrets))
    missing = stack.missing_secrets(s.name for s in secrets if not s.generate and not s.optional)
    if missing:
        raise SupastackError("\n".join(missing))
    check_cron_tokens(manifests, secrets)
    flags = plan_flags(manifests, stack.flags, stack.source)
    functions = project_dir / "functions"
    apps = [
        AppPlan(
            manifest=m,
            migrations=files[m.app],
            functions={
                slug: package(functions, m.app, slug, spec.config(), spec.verify_jwt)
                for slug, spec in m.functions.items()
            },
            jobs=plan_jobs(m, target.pg_cron, stack.database.name),
            rules=plan_rules(m, stack.alert_channels),
            uses=uses(m),
            seeds=discover_seeds(project_dir / "seeds", m.app) if target.seeds_enabled else [],
            partitions=plan_partitions(m, target.pg_cron, stack.database.name),
            refreshes=plan_refreshes(m, target.pg_cron, stack.database.name),
            flags=flags[m.app],
        )
        for m in manifests
    ]
    _check_job_names(apps)
    channels = [channel_of(name, config) for name, config in stack.alert_channels.items()]
    return StackPlan(apps, secrets, channels)


def _check_job_names(apps: list[AppPlan]) -> None:
    """pg_cron upserts jobs by name: a manifest's job named like one supastack schedules
    (``partman-<schema>-<table>``, ``refresh-<schema>-<view>``) would replace it. (Manifest
    jobs sharing a name are refused with the manifests.)"""
    seen: dict[str, str] = {}
    for plan in apps:
        for job in plan.all_jobs:
            if job.name in seen:
                raise SupastackError(
                    f"{plan.manifest.source}: cron: job name {job.name!r} is also the name of "
                    "the job supastack schedules for a partitioned table or a materialized view "
                    f"(in {seen[job.name]}); rename it"
                )
            seen[job.name] = plan.manifest.source
