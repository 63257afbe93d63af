"""Typed stack settings: the one place where stack configuration is read and validated.

A stack's configuration lives under the ``supastack:`` namespace of ``Pulumi.<stack>.yaml``
(or reaches the program through Pulumi's runtime config; both go through :func:`parse`).
Secret keys never carry a value into this model: a ``secure:`` entry is recorded as "set",
and a secret key written in plaintext is rejected, so a password cannot slip into git or into
an error message. Every error names the stack file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from supastack.config import yamlfile
from supastack.config.models import ConfigModel, SecretName, describe_errors
from supastack.config.project_settings import ProjectSettings
from supastack.errors import SupastackError
from supastack.flags.specs import FlagName, FlagSettings

NAMESPACE = "supastack"

#: Keys whose values must be Pulumi secrets (``pulumi config set --secret``).
SECRET_KEYS = frozenset(
    {
        "dbPassword",
        "accessToken",
        "secretValues",
        "anonKey",
        "serviceRoleKey",
        "jwtSecret",
        "publishableKey",
        "secretKey",
        "jwtSigningKey",
    }
)

_DURATION = re.compile(r"^[0-9]+(us|ms|s|min|h|d)?$")
_APP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_PROJECT_REF = re.compile(r"^[a-z]{20}$")

#: Apps every stack deploys first: the platform's own tables (function invocations, rate
#: limits, alert rules); a stack does not list them.
MONITORING_APP = "monitoring"
PLATFORM_APPS = (MONITORING_APP,)


class Target(StrEnum):
    """Where a stack deploys: the embedded local environment or a Supabase project."""

    LOCAL = "local"
    SUPABASE = "supabase"


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a Postgres duration such as '5s', '500ms' or '2min'")
    return value


Duration = Annotated[str, AfterValidator(_duration)]


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class DatabaseSettings(ConfigModel):
    """``supastack:database``: the direct connection (never the transaction pooler, port 6543).

    The password is the secret ``supastack:dbPassword`` on the ``supabase`` target; the local
    target reads its generated credentials from the local state directory instead.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=5432, ge=1, le=65535)
    name: str = "postgres"
    user: str = "postgres"
    sslmode: Literal["disable", "require", "verify-ca", "verify-full"] = "require"
    #: The database pg_cron runs in (``cron.database_name``; ``postgres`` on Supabase).
    cron_database: str = "postgres"

    @model_validator(mode="after")
    def _not_the_transaction_pooler(self) -> Self:
        if self.port == 6543:
            raise ValueError(
                "port 6543 is Supabase's transaction pooler, which breaks advisory locks and "
                "session settings; use the direct connection or session pooler on port 5432"
            )
        return self


class LocalSettings(ConfigModel):
    """``supastack:local``: where the embedded target keeps its state and which ports it uses."""

    state_dir: str = ".supastack/local"
    db_port: int = Field(default=54322, ge=1024, le=65535)
    runtime_port: int = Field(default=54321, ge=1024, le=65535)
    redis_port: int = Field(default=54323, ge=1024, le=65535)
    """The local Redis's, when an app of the stack asks for one (``redis: true``)."""

    def state_path(self, project_dir: Path) -> Path:
        """The state directory; a relative ``stateDir`` is relative to the project."""
        path = Path(self.state_dir)
        return path if path.is_absolute() else project_dir / path


class MigrationSettings(ConfigModel):
    """``supastack:migrations``: per-file timeouts, the out-of-order escape hatch, and how long
    a deploy waits for another deploy's migration lock before giving up."""

    lock_timeout: Duration = "5s"
    statement_timeout: Duration = "5min"
    allow_out_of_order: bool = False
    deploy_lock_wait: Duration = "2min"
    #: Keep applied migrations when their resource is deleted: no down file runs on this stack.
    retain_on_delete: bool = False


class BackupSettings(ConfigModel):
    """``supastack:backups``: dumps taken before a destructive migration runs.

    On ``supabase`` the dumps go to S3 (``bucket`` required, server-side encrypted); on
    ``local`` to ``directory`` (default: ``backups/`` under the local state directory).
    """

    enabled: bool = False
    bucket: str | None = None
    prefix: str = "supastack/"
    endpoint: str | None = None
    region: str | None = None
    sse: Literal["AES256", "aws:kms"] = "AES256"
    kms_key_id: str | None = None
    directory: str | None = None

    @model_validator(mode="after")
    def _kms_needs_key(self) -> Self:
        if self.sse == "aws:kms" and not self.kms_key_id:
            raise ValueError("sse 'aws:kms' needs kmsKeyId")
        return self


Severity = Literal["critical", "warning", "info"]
ALL_SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")


class AlertChannel(ConfigModel):
    """One entry of ``supastack:alertChannels``.

    ``secret`` names the entry of ``supastack:secretValues`` that holds the webhook URL or
    routing key; the value itself is stored in Vault at deploy time, never in SQL text.
    """

    type: Literal["slack", "pagerduty", "webhook", "email"]
    secret: SecretName
    severities: list[Severity] = Field(default_factory=lambda: list(ALL_SEVERITIES))
    #: PagerDuty only: the Events API URL (default https://events.pagerduty.com/v2/enqueue).
    endpoint: str | None = None


class LogDrainSettings(ConfigModel):
    """One entry of ``supastack:logDrains``: where function log lines go, which, how batched.

    ``authSecret`` names the ``supastack:secretValues`` entry sent as the ``authHeader`` value.
    """

    url: Annotated[str, AfterValidator(_http_url)]
    auth_secret: SecretName | None = None
    auth_header: str = "Authorization"
    functions: list[str] = Field(default_factory=list)
    min_level: Literal["debug", "info", "warn", "error"] = "info"
    batch_size: int = Field(default=100, ge=1, le=10_000)
    flush_seconds: float = Field(default=5, gt=0, le=300)


class AdoptImports(ConfigModel):
    """``supastack:adoptImports``: the ``pulumi-postgresql`` objects a deploy imports, by name."""

    roles: list[str] = Field(default_factory=list)
    schemas: list[str] = Field(default_factory=list)
    extensions: list[str] = Field(default_factory=list)


class StackSettings(ConfigModel):
    """The validated ``supastack:*`` configuration of one stack."""

    stack: str
    source: str
    target: Target
    project_ref: str | None = None
    apps: list[str] = Field(default_factory=list)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    protect: bool = False
    adopt: bool = False
    """For one deploy, when moving a live project under the stack: a resource that finds its
    object already there (a cron job made by hand) takes it over without re-creating it if it
    matches the program, and fails naming the differences if not (docs/delivery.md)."""
    adopt_replaces: list[str] = Field(default_factory=list)
    """With ``adopt``: the cron jobs made by hand that ``adopt --accept`` showed differing and
    were accepted: the deploy schedules the declared job in their place (same job id), so the
    hand-made one runs until then (set by adopt; remove it with ``adopt``)."""
    adopt_imports: AdoptImports = Field(default_factory=AdoptImports)
    """With ``adopt``: the declared roles, schemas and extensions adopt found live and as
    declared: the deploy imports them (``import_``) instead of creating them (set by adopt)."""
    migrations: MigrationSettings = Field(default_factory=MigrationSettings)
    backups: BackupSettings = Field(default_factory=BackupSettings)
    alert_channels: dict[str, AlertChannel] = Field(default_factory=dict)
    log_drains: dict[str, LogDrainSettings] = Field(default_factory=dict)
    seed: bool | None = None
    """Apply ``seeds/<app>/*.sql`` after the migrations (None: the target's default,
    ``supastack.targets.StackTarget.seeds_enabled``)."""
    function_secrets: list[SecretName] = Field(default_factory=list)
    postgres_settings: dict[str, str] = Field(default_factory=dict)
    """Postgres server settings for this stack, over the apps' ``postgresSettings``
    (``supastack.config.manifest.merged_settings``)."""
    project: ProjectSettings | None = None
    """The Supabase project's pooler, SSL enforcement and network restrictions (the
    ``supabase`` target; ``supastack.database.project_settings``)."""
    flags: dict[FlagName, FlagSettings] = Field(default_factory=dict)
    """The apps' feature flags as this stack sets them (``supastack.flags``); `supastack
    rollout` steps a flag's percentage here."""
    pg_cron_version: str | None = None
    """The pg_cron version schedules are validated against (None: the target's)."""
    #: Names of the secret keys that are set (values never enter this model).
    secrets_set: frozenset[str] = frozenset()
    #: Names under ``supastack:secretValues`` that are set.
    secret_values_set: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.target is Target.SUPABASE:
            if not self.project_ref or not _PROJECT_REF.match(self.project_ref):
                raise ValueError(
                    "projectRef: the supabase target needs the project ref, 20 lowercase letters"
                )
            if self.backups.enabled and not self.backups.bucket:
                raise ValueError("backups.bucket: backups on the supabase target go to S3")
        for app in self.apps:
            if app in PLATFORM_APPS:
                raise ValueError(f"apps: {app!r} is deployed on every stack; do not list it")
            if not _APP_NAME.match(app):
                raise ValueError(f"apps: {app!r} is not an app name (lowercase, digits, _)")
        if len(set(self.apps)) != len(self.apps):
            raise ValueError("apps: an app is listed twice")
        return self

    @property
    def deployed_apps(self) -> list[str]:
        """The platform's apps, then the stack's, in deployment order."""
        return [*PLATFORM_APPS, *self.apps]

    def missing_secrets(self, required: Iterable[str] = ()) -> list[str]:
        """The secret keys this stack needs but does not set, each with the command to set it.

        ``required`` adds names of ``secretValues`` the apps' manifests need.
        """
        needed: list[str] = []
        if self.target is Target.SUPABASE:
            needed += [k for k in ("dbPassword", "accessToken") if k not in self.secrets_set]
        wanted = (
            set(self.function_secrets)
            | {c.secret for c in self.alert_channels.values()}
            | {d.auth_secret for d in self.log_drains.values() if d.auth_secret}
            | set(required)
        )
        needed += [f"secretValues.{name}" for name in sorted(wanted - self.secret_values_set)]
        return [
            f"{self.source}: {NAMESPACE}:{key} is not set; run "
            f"`pulumi config set --secret{' --path' if '.' in key else ''} "
            f"'{NAMESPACE}:{key}' <value> --stack {self.stack}`"
            for key in needed
        ]


def _is_secure(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _secret_names(key: str, value: Any, source: str) -> frozenset[str]:
    """Check that a secret key holds only ``secure:`` values; return the names of secretValues."""
    hint = f"`pulumi config set --secret {NAMESPACE}:{key} <value>`"
    if key != "secretValues":
        if not _is_secure(value):
            raise SupastackError(
                f"{source}: {NAMESPACE}:{key} must be a secret, not plaintext; set it with {hint}"
            )
        return frozenset()
    if not isinstance(value, Mapping):
        raise SupastackError(f"{source}: {NAMESPACE}:secretValues must be a mapping of names")
    for name, leaf in value.items():
        if not _is_secure(leaf):
            raise SupastackError(
                f"{source}: {NAMESPACE}:secretValues.{name} must be a secret, not plaintext; "
                f"set it with `pulumi config set --secret --path "
                f"'{NAMESPACE}:secretValues.{name}' <value>`"
            )
    return frozenset(str(n) for n in value)


def parse(stack: str, config: Mapping[str, Any], source: str) -> StackSettings:
    """Validate a stack's config mapping (keys ``supastack:<key>``) into :class:`StackSettings`.

    ``source`` names where the mapping came from (the stack file) for error messages. Keys of
    other namespaces (provider settings) are ignored; unknown ``supastack:`` keys are errors,
    because a misspelt key silently falling back to a default is how prod gets local settings.
    """
    fields: dict[str, Any] = {"stack": stack, "source": source}
    secrets_set: set[str] = set()
    secret_values: frozenset[str] = frozenset()
    for full_key, value in config.items():
        namespace, _, key = full_key.rpartition(":")
        if namespace not in ("", NAMESPACE):
            continue
        if key in SECRET_KEYS:
            names = _secret_names(key, value, source)
            secrets_set.add(key)
            if key == "secretValues":
                secret_values = names
            continue
        if key in ("stack", "source", "secretsSet", "secretValuesSet"):
            raise SupastackError(f"{source}: {NAMESPACE}:{key} is not a configuration key")
        fields[key] = value
    fields["secretsSet"] = frozenset(secrets_set)
    fields["secretValuesSet"] = secret_values
    try:
        return StackSettings.model_validate(fields)
    except ValidationError as exc:
        raise SupastackError(describe_errors(exc, source, f"{NAMESPACE}:")) from None


def stack_file(project_dir: Path, stack: str) -> Path:
    """The path of ``Pulumi.<stack>.yaml`` in the project directory."""
    return project_dir / f"Pulumi.{stack}.yaml"


def load(project_dir: Path, stack: str) -> StackSettings:
    """Load and validate ``Pulumi.<stack>.yaml`` (the CLI's way; the program uses :func:`parse`)."""
    path = stack_file(project_dir, stack)
    try:
        document = yamlfile.load(path.read_text())
    except FileNotFoundError:
        raise SupastackError(
            f"no such stack {stack!r}: there is no {path.name} in {project_dir}"
        ) from None
    except yaml.YAMLError as exc:
        raise SupastackError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("config"), Mapping):
        raise SupastackError(f"{path.name}: expected a top-level 'config:' mapping")
    return parse(stack, document["config"], path.name)
