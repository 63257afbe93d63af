"""App manifests: ``apps/<app>.yaml`` declares what one deployed system needs.

This module holds the database part: the app's schema, extensions, Postgres settings, realtime
tables, roles, grants, default privileges, which of Supabase's default grants to revoke, the
tables under row level security and their policies. The app's migrations live in
``migrations/<app>/``.

Identifiers (roles, tables, policies) may be any Postgres name: they are always quoted when
rendered, never pasted. SQL expressions (a policy's ``using`` and ``withCheck``) are parsed
here, so an expression that smuggles in a second statement is refused before it reaches a
database. Every error names the manifest file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from supastack.config.models import ConfigModel, SecretName, describe_errors
from supastack.config.settings import Duration, Severity
from supastack.database import sqltext
from supastack.delivery.verify import VerifySpec
from supastack.errors import SupastackError

#: Extensions Supabase pins to a schema: pg_cron must live in pg_catalog.
PINNED_SCHEMAS = {"pg_cron": "pg_catalog"}
MAX_IDENTIFIER = 63


FUNCTION_SLUG = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _identifier(value: str) -> str:
    if not value or len(value.encode()) > MAX_IDENTIFIER or "\x00" in value:
        raise ValueError(f"{value!r} is not a Postgres identifier (1 to 63 bytes, no NUL)")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
Expression = Annotated[str, AfterValidator(sqltext.expression)]
Privilege = Literal[
    "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
    "USAGE", "CREATE", "EXECUTE", "ALL",
]  # fmt: skip


class ExtensionSpec(ConfigModel):
    """An extension; Supabase keeps them in the ``extensions`` schema (pg_cron in pg_catalog)."""

    name: Identifier
    schema_: Identifier | None = Field(default=None, alias="schema")
    version: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value

    @property
    def schema_name(self) -> str:
        return self.schema_ or PINNED_SCHEMAS.get(self.name, "extensions")

    @model_validator(mode="after")
    def _pinned(self) -> Self:
        pinned = PINNED_SCHEMAS.get(self.name)
        if pinned and self.schema_ not in (None, pinned):
            raise ValueError(f"schema: {self.name} must be installed in {pinned} on Supabase")
        return self


class RoleSpec(ConfigModel):
    """An app role; its password is generated (a Pulumi secret) when it can log in."""

    name: Identifier
    login: bool = False
    member_of: list[Identifier] = Field(default_factory=list)
    connection_limit: int = Field(default=-1, ge=-1)


class GrantSpec(ConfigModel):
    """Privileges on objects of the app's schema (``objects`` empty: all that exist now)."""

    role: Identifier
    object_type: Literal["schema", "table", "sequence", "function"]
    objects: list[Identifier] = Field(default_factory=list)
    privileges: list[Privilege]


class DefaultPrivilegeSpec(ConfigModel):
    """Privileges on objects ``owner`` creates in the app's schema later (by migrations)."""

    role: Identifier
    object_type: Literal["table", "sequence", "function"]
    privileges: list[Privilege]
    owner: Identifier = "postgres"


Command = Literal["all", "select", "insert", "update", "delete"]


class PolicySpec(ConfigModel):
    """A row level security policy on a table of the app's schema."""

    name: Identifier
    table: Identifier
    command: Command = "all"
    roles: list[Identifier] = Field(default_factory=lambda: ["public"])
    mode: Literal["permissive", "restrictive"] = "permissive"
    using: Expression | None = None
    with_check: Expression | None = None

    @model_validator(mode="after")
    def _clauses_fit_the_command(self) -> Self:
        if self.command in ("select", "delete") and self.with_check is not None:
            raise ValueError(f"withCheck: a {self.command} policy takes only using")
        if self.command == "insert" and self.using is not None:
            raise ValueError("using: an insert policy takes only withCheck")
        if self.using is None and self.with_check is None:
            raise ValueError("using: a policy needs using or withCheck")
        return self


class RateLimitSpec(ConfigModel):
    """Requests per caller per window, enforced by functions/_shared through Postgres."""

    requests: int = Field(gt=0)
    per_seconds: int = Field(gt=0)
    by: Literal["user", "ip"] = "user"


#: A function's request body limit unless its manifest says otherwise (plenty for JSON APIs).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: The largest limit a manifest may set (what one function instance should ever hold).
MAX_BODY_BYTES = 20 * 1024 * 1024


class FunctionSpec(ConfigModel):
    """A function of the app, ``functions/<app>/<slug>/index.ts``."""

    verify_jwt: bool = True
    verify_jwt_off_reason: str | None = None
    """Why the function runs without the gateway's JWT check (the policy pack requires one)."""
    rate_limit: RateLimitSpec | None = None
    env: dict[str, str] = Field(default_factory=dict)
    """Non-secret settings, deployed with the function (its ``function.config.json``)."""
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1, le=MAX_BODY_BYTES)
    """The largest request body the function reads; ``functions/_shared`` answers 413 past it
    before parsing anything."""

    def config(self) -> dict[str, object]:
        """What the function's deployed config file holds (besides its name and verify_jwt)."""
        body: dict[str, object] = {"env": dict(self.env), "maxBodyBytes": self.max_body_bytes}
        if self.rate_limit:
            body["rateLimit"] = self.rate_limit.model_dump(by_alias=True)
        return body


class SecretSpec(ConfigModel):
    """A function secret: set with ``pulumi config set --secret --path
    'supastack:secretValues.<name>'`` or generated (``generate``); ``vault`` also stores it
    in Vault for SQL (cron jobs) to read."""

    name: SecretName
    generate: bool = False
    length: int = Field(default=40, ge=16, le=256)
    optional: bool = False
    vault: bool = False
    function: bool = True
    """Whether functions get it (alert channel secrets are for SQL only)."""

    def deployed(self, provided: Collection[str]) -> bool:
        """Whether the stack has a value for it: generated, or set in ``secretValues`` (an
        optional secret the stack does not set is left out, not an error)."""
        return self.generate or self.name in provided


class FunctionTarget(ConfigModel):
    """A job that calls a function of the app with a JSON body, as a scheduled job."""

    slug: str
    body: dict[str, object] = Field(default_factory=dict)
    token_secret: SecretName = "JOB_SECRET"  # noqa: S105 (a name, not a value)
    """The Vault secret sent as the bearer token (declare it with ``vault: true``)."""


class CronJobSpec(ConfigModel):
    """A pg_cron job: SQL, or a call of one of the app's functions."""

    name: Annotated[str, AfterValidator(_identifier)]
    schedule: str
    sql: str | None = None
    function: FunctionTarget | None = None
    active: bool = True

    @model_validator(mode="after")
    def _one_command(self) -> Self:
        if (self.sql is None) == (self.function is None):
            raise ValueError("sql: a job runs either sql or a function, exactly one")
        return self


class MetricSpec(ConfigModel):
    """What a rule measures: one helper, or ``sql`` returning one number (``$1``: the window)."""

    function_error_rate: str | None = None
    """Share of a function's invocations answered 5xx (0 to 1)."""
    function_p95_ms: str | None = None
    """A function's 95th-percentile duration in milliseconds."""
    cron_failures: str | None = None
    """Failed runs of a pg_cron job (by name)."""
    sql: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        chosen = [k for k, v in self.model_dump().items() if v is not None]
        if len(chosen) != 1:
            raise ValueError(
                "metric: give exactly one of functionErrorRate, functionP95Ms, cronFailures, sql"
            )
        return self


class AlertRuleSpec(ConfigModel):
    """A rule: fires when the metric over ``window`` compares true against ``threshold`` for
    ``for``; repeats every ``repeatEvery`` while firing; resolves when it no longer does."""

    name: Annotated[str, AfterValidator(_identifier)]
    severity: Severity
    metric: MetricSpec
    comparison: Literal[">", ">=", "<", "<=", "=", "<>"] = ">"
    threshold: float
    window: Duration = "5min"
    for_duration: Duration = Field(default="0", alias="for")
    repeat_every: Duration = "1h"
    channels: list[str] = Field(default_factory=list)
    """Channels of ``supastack:alertChannels`` (default: all of them)."""


class RealtimeConfigSpec(ConfigModel):
    """Supabase Realtime limits (Management API ``config/realtime``); the local target has no
    Realtime server, so there they do not apply."""

    max_concurrent_users: int | None = Field(default=None, ge=1, le=50_000)
    max_events_per_second: int | None = Field(default=None, ge=1, le=50_000)
    max_channels_per_client: int | None = Field(default=None, ge=1, le=10_000)

    def api_values(self) -> dict[str, int]:
        """The API's body: snake_case keys, only what is set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


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
        secret_names = [s.name for s in self.secrets]
        if len(set(secret_names)) != len(secret_names):
            raise ValueError("secrets: a secret is listed twice")
        for index, job in enumerate(self.cron):
            if job.function and job.function.slug not in self.functions:
                raise ValueError(
                    f"cron.{index}.function.slug: {job.function.slug!r} is not one of this "
                    "app's functions"
                )
        job_names = [j.name for j in self.cron]
        if len(set(job_names)) != len(job_names):
            raise ValueError("cron: two jobs share a name")
        for index, probe in enumerate(self.verify.http):
            if probe.function not in self.functions:
                raise ValueError(
                    f"verify.http.{index}.function: {probe.function!r} is not one of this app's "
                    "functions"
                )
        return self


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


def merged_settings(manifests: list[AppManifest]) -> dict[str, str]:
    return _merged(manifests, "postgresSettings", lambda m: m.postgres_settings)


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
    """Every secret of the stack: ``supastack:functionSecrets``, the manifests' ``secrets``, and
    the alert channels' (Vault only); two apps may share a secret only if they declare it alike."""
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
        document = yaml.safe_load(path.read_text()) or {}
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
