"""Everything a stack will deploy, read and checked before any resource is declared.

The program builds this first, so a broken manifest, a missing secret, a bad schedule, a
function that does not package or a migration file that does not fit fails the preview with
a message naming the file and key, and nothing at all is applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from supastack.config.apps import check_shared_names, deployment_order, uses
from supastack.config.manifest import (
    AppManifest,
    available_apps,
    check_cron_tokens,
    load_app,
    merged_secrets,
)
from supastack.config.settings import StackSettings
from supastack.errors import SupastackError
from supastack.functions.packaging import FunctionPackage, package
from supastack.functions.specs import SecretSpec
from supastack.migrations.files import MigrationFile, discover
from supastack.migrations.seeds import SeedFile
from supastack.migrations.seeds import discover as discover_seeds
from supastack.operations.alerts import Channel, Rule, channel_of, plan_rules
from supastack.operations.cron import Job, plan_jobs


@dataclass(frozen=True)
class AppPlan:
    manifest: AppManifest
    migrations: list[MigrationFile]
    functions: dict[str, FunctionPackage]
    jobs: list[Job]
    rules: list[Rule]
    uses: tuple[str, ...] = ()
    """The apps this app's resources wait for (``supastack.config.apps.uses``)."""
    seeds: list[SeedFile] = field(default_factory=list)
    """Its seed files, on stacks that seed."""


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
    secrets = merged_secrets(stack.function_secrets, manifests, channel_secrets)
    missing = stack.missing_secrets(s.name for s in secrets if not s.generate and not s.optional)
    if missing:
        raise SupastackError("\n".join(missing))
    check_cron_tokens(manifests, secrets)
    functions = project_dir / "functions"
    apps = [
        AppPlan(
            manifest=m,
            migrations=files[m.app],
            functions={
                slug: package(functions, m.app, slug, spec.config(), spec.verify_jwt)
                for slug, spec in m.functions.items()
            },
            jobs=plan_jobs(m, stack.pg_cron, stack.database.name),
            rules=plan_rules(m, stack.alert_channels),
            uses=uses(m),
            seeds=discover_seeds(project_dir / "seeds", m.app) if stack.seeds_enabled else [],
        )
        for m in manifests
    ]
    channels = [channel_of(name, config) for name, config in stack.alert_channels.items()]
    return StackPlan(apps, secrets, channels)
