"""App manifests: ``apps/<app>.yaml`` declares what one deployed system needs.

The manifest is assembled from each concern's specs (``supastack.database.specs``,
``supastack.functions.specs``, ``supastack.operations.specs``, ``supastack.delivery.verify``);
this module holds the whole, the checks across its sections, the merges across apps, and
loading. The app's migrations live in ``migrations/<app>/``. Every error names the manifest
file and the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Literal, Self, TypeVar

import yaml
from pydantic import Field, ValidationError, model_validator

from supastack.config import yamlfile
from supastack.config.models import ConfigModel, describe_errors
from supastack.database.specs import (
    DefaultPrivilegeSpec,
    ExtensionSpec,
    GrantSpec,
    Identifier,
    MaterializedViewSpec,
    PartitionSpec,
    PolicySpec,
    RealtimeConfigSpec,
    RoleSpec,
)
from supastack.delivery.specs import VerifySpec
from supastack.errors import SupastackError
from supastack.flags.specs import FlagSpec
from supastack.functions.specs import FUNCTION_SLUG, REDIS_URL, FunctionSpec, SecretSpec
from supastack.operations.specs import AlertRuleSpec, CronJobSpec


class AppManifest(ConfigModel):
    """The database part of ``apps/<app>.yaml``."""

    app: str
    source: str
    depends_on: list[str] = Field(default_factory=list)
    """Apps whose migrations (and functions) this one uses: deployed before all of it."""
    schema_: Identifier | None = Field(default=None, alias="schema")
    public_schema_reason: str | None = None
    """Why the app's tables live in the shared ``public`` schema (``schema: public`` needs it)."""
    api: bool | list[Identifier] = False
    """The schemas the Data API serves for the app: ``true`` for its own, or a list."""
    extensions: list[ExtensionSpec] = Field(default_factory=list)
    postgres_settings: dict[str, str] = Field(default_factory=dict)
    realtime: list[Identifier] = Field(default_factory=list)
    roles: list[RoleSpec] = Field(default_factory=list)
    grants: list[GrantSpec] = Field(default_factory=list)
    default_privileges: list[DefaultPrivilegeSpec] = Field(default_factory=list)
    revoke_default_grants: list[Literal["anon", "authenticated"]] = Field(default_factory=list)
    rls: list[Identifier] = Field(default_factory=list)
    policies: list[PolicySpec] = Field(default_factory=list)
    functions: dict[str, FunctionSpec] = Field(default_factory=dict)
    secrets: list[SecretSpec] = Field(default_factory=list)
    cron: list[CronJobSpec] = Field(default_factory=list)
    alerts: list[AlertRuleSpec] = Field(default_factory=list)
    realtime_config: RealtimeConfigSpec | None = None
    partitions: list[PartitionSpec] = Field(default_factory=list)
    """Tables partitioned by time, handed to pg_partman (``supastack.database.partitions``)."""
    materialized_views: list[MaterializedViewSpec] = Field(default_factory=list)
    """Materialized views refreshed on a schedule (``supastack.database.matviews``)."""
    redis: bool = False
    """The app's functions use a Redis, through ``REDIS_URL``: locally one that ``supastack
    local up`` starts; on Supabase Upstash's Redis endpoint, an optional secret value (unset:
    the functions do without)."""
    flags: list[FlagSpec] = Field(default_factory=list)
    """Feature flags the app's code asks (``supastack.flags``); each stack sets them."""
    verify: VerifySpec = Field(default_factory=VerifySpec)
    """The guide's own checks, run by ``supastack smoke`` (``supastack.delivery.verify``)."""

    @property
    def schema_name(self) -> str:
        """The app's schema (default: the app's name)."""
        return self.schema_ or self.app

    @property
    def exposed_schemas(self) -> list[str]:
        if self.api is True:
            return [self.schema_name]
        return list(self.api) if self.api else []

    @property
    def public_tables(self) -> list[str]:
        """Tables a policy opens to ``anon``: meant to be read by everyone (a listing)."""
        return sorted({p.table for p in self.policies if "anon" in p.roles})

    @property
    def owns_schema(self) -> bool:
        """Whether supastack creates (and may drop) the schema: never ``public``, which every
        database has and other apps share."""
        return self.schema_name != "public"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.schema_name == "public" and not self.public_schema_reason:
            raise ValueError(
                "schema: an app owns its schema; public (shared by every app and exposed by "
                "default) needs publicSchemaReason, saying why the app's tables live there"
            )
        for index, policy in enumerate(self.policies):
            if policy.table not in self.rls:
                raise ValueError(
                    f"policies.{index}.table: {policy.table!r} is not listed under rls; a "
                    "policy on a table without row level security protects nothing"
                )
        names = [(p.table, p.name) for p in self.policies]
        if len(set(names)) != len(names):
            raise ValueError("policies: two policies of one table share a name")
        for slug in self.functions:
            if not FUNCTION_SLUG.match(slug):
                raise ValueError(
                    f"functions.{slug}: not a function slug (letters, digits, _ and -, "
                    "starting with a letter)"
                )
        for index, job in enumerate(self.cron):
            if job.function and job.function.slug not in self.functions:
                raise ValueError(
                    f"cron.{index}.function.slug: {job.function.slug!r} is not one of this "
                    "app's functions"
                )
        self._check_unique_names()
        self._check_partitions()
        for index, probe in enumerate(self.verify.http):
            if probe.function not in self.functions:
                raise ValueError(
                    f"verify.http.{index}.function: {probe.function!r} is not one of this app's "
                    "functions"
                )
        return self

    def _check_unique_names(self) -> None:
        """Secrets, cron jobs and flags are upserted by name: one entry per name."""
        for key, names in (
            ("secrets", [s.name for s in self.secrets]),
            ("cron", [j.name for j in self.cron]),
            ("flags", [f.name for f in self.flags]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{key}: {repeated[0]!r} is listed twice")

    def _check_partitions(self) -> None:
        """Partitioned tables and materialized views: each listed once; partitions need
        pg_partman, and no schema-wide table grant to the API roles (it reaches partitions)."""
        views = [v.view for v in self.materialized_views]
        if len(set(views)) != len(views):
            raise ValueError("materializedViews: a view is listed twice")
        if not self.partitions:
            return
        tables = [p.table for p in self.partitions]
        if len(set(tables)) != len(tables):
            raise ValueError("partitions: a table is listed twice")
        if "pg_partman" not in {e.name for e in self.extensions}:
            raise ValueError(
                "partitions: need the pg_partman extension; add it under extensions "
                "(extensions: [pg_partman], installed in schema partman)"
            )
        for index, grant in enumerate(self.grants):
            if (
                grant.object_type == "table"
                and not grant.objects
                and grant.role in ("anon", "authenticated")
            ):
                raise ValueError(
                    f"grants.{index}.objects: a grant to {grant.role} on every table of the "
                    "schema reaches each partition too, where the parent's policies do not "
                    f"apply; list the tables ({', '.join(tables)} covers their partitions)"
                )


V = TypeVar("V")


def _merged(
    manifests: list[AppManifest], key: str, entries: Callable[[AppManifest], Mapping[str, V]]
) -> dict[str, V]:
    """One value per name across the apps; two apps giving a name different values is an
    error naming both manifests (these are database-wide, one value each)."""
    chosen: dict[str, tuple[V, str]] = {}
    for manifest in manifests:
        for name, value in entries(manifest).items():
            seen = chosen.setdefault(name, (value, manifest.source))
            if seen[0] != value:
                raise SupastackError(
                    f"{manifest.source}: {key}.{name}: {value!r} conflicts with {seen[0]!r} "
                    f"in {seen[1]}"
                )
    return {name: value for name, (value, _) in chosen.items()}


def merged_extensions(manifests: list[AppManifest]) -> list[ExtensionSpec]:
    """Each extension once; the same extension in two schemas or versions is an error."""

    def normalized(manifest: AppManifest) -> dict[str, ExtensionSpec]:
        """With the schema spelled out, so `pg_cron` and `{name: pg_cron, schema: pg_catalog}`
        are the same extension."""
        return {
            e.name: ExtensionSpec(name=e.name, schema_=e.schema_name, version=e.version)
            for e in manifest.extensions
        }

    return list(_merged(manifests, "extensions", normalized).values())


def merged_settings(
    manifests: list[AppManifest], stack_values: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The apps' Postgres settings with the stack's (``supastack:postgresSettings``) over them:
    memory and connection sizes follow the machine a stack runs on, so a stack's value wins,
    and two apps asking different values of a setting is an error only if the stack does not
    settle it."""
    settled = dict(stack_values or {})

    def unsettled(manifest: AppManifest) -> dict[str, str]:
        return {k: v for k, v in manifest.postgres_settings.items() if k not in settled}

    return {**_merged(manifests, "postgresSettings", unsettled), **settled}


def merged_realtime_config(manifests: list[AppManifest]) -> dict[str, int]:
    """The Realtime limits the apps ask for."""
    return _merged(
        manifests,
        "realtimeConfig",
        lambda m: m.realtime_config.api_values() if m.realtime_config else {},
    )


def merged_secrets(
    stack_secrets: list[str], manifests: list[AppManifest], channel_secrets: Iterable[str] = ()
) -> list[SecretSpec]:
    """Every secret of the stack: ``supastack:functionSecrets``, the manifests' ``secrets``, the
    alert channels' (Vault only), and ``REDIS_URL`` when an app asks for a Redis; two apps may
    share a secret only if they declare it alike."""
    specs = {name: (SecretSpec(name=name), "supastack:functionSecrets") for name in stack_secrets}
    for name in channel_secrets:
        specs[name] = (SecretSpec(name=name, vault=True, function=False), "supastack:alertChannels")
    for manifest in manifests:
        for spec in manifest.secrets:
            seen = specs.setdefault(spec.name, (spec, manifest.source))
            if seen[0] != spec and seen[1] != "supastack:functionSecrets":
                raise SupastackError(
                    f"{manifest.source}: secrets: {spec.name} is declared differently in {seen[1]}"
                )
            if seen[1] == "supastack:functionSecrets":
                specs[spec.name] = (spec, manifest.source)
    if any(m.redis for m in manifests) and REDIS_URL not in specs:
        specs[REDIS_URL] = (SecretSpec(name=REDIS_URL, optional=True), "redis: true")
    return [spec for _, (spec, _) in sorted(specs.items())]


def check_cron_tokens(manifests: list[AppManifest], secrets: list[SecretSpec]) -> None:
    """A job calling a function sends a Vault secret as its token: it must be declared so."""
    in_vault = {spec.name for spec in secrets if spec.vault}
    for manifest in manifests:
        for index, job in enumerate(manifest.cron):
            if job.function and job.function.token_secret not in in_vault:
                raise SupastackError(
                    f"{manifest.source}: cron.{index}.function.tokenSecret: "
                    f"{job.function.token_secret} is not a secret with `vault: true`; declare it "
                    "under secrets (e.g. {name: JOB_SECRET, generate: true, vault: true})"
                )


def manifest_path(project_dir: Path, app: str) -> Path:
    return project_dir / "apps" / f"{app}.yaml"


def available_apps(project_dir: Path) -> list[str]:
    """The apps with a manifest in ``apps/``."""
    return sorted(path.stem for path in (project_dir / "apps").glob("*.yaml"))


def load_app(project_dir: Path, app: str) -> AppManifest:
    """Load and validate ``apps/<app>.yaml``."""
    path = manifest_path(project_dir, app)
    source = f"apps/{app}.yaml"
    try:
        document = yamlfile.load(path.read_text()) or {}
    except FileNotFoundError:
        raise SupastackError(f"{source}: no manifest for app {app!r}") from None
    except yaml.YAMLError as exc:
        raise SupastackError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(document, Mapping):
        raise SupastackError(f"{source}: expected a mapping of keys")
    if "app" in document or "source" in document:
        raise SupastackError(f"{source}: 'app' and 'source' are not manifest keys")
    try:
        return AppManifest.model_validate({**document, "app": app, "source": source})
    except ValidationError as exc:
        raise SupastackError(describe_errors(exc, source)) from None
