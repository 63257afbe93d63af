"""The typed properties of supastack's dynamic resources: the contract between the program,
which declares them, and the providers, which act on them.

Pulumi hands a provider plain dicts: the inputs, or the outputs (the inputs plus what the
provider added). Each provider validates them into its class here once, at the boundary, and
works with typed values from then on; a property the program forgot or misspelt fails there,
naming it. A class's fields are the resource's inputs, which its diff compares (except those in
``not_diffed``). Secret properties (connection strings, tokens, values) never show in a repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from supastack.config.settings import MigrationSettings
from supastack.database import rls
from supastack.database.matviews import Refresh
from supastack.database.partitions import PartitionSet
from supastack.flags.store import Flag
from supastack.functions.management_api import ManagementApi
from supastack.functions.packaging import FunctionPackage
from supastack.migrations import seeds
from supastack.migrations.files import MigrationFile
from supastack.operations import alerts, cron


def secret(default: Any = ...) -> Any:
    """A field that holds a secret, declared once here: kept out of reprs, marked secret in the
    state by its resource (``additional_secret_outputs``), and required to be so by the policy
    pack (``policy.validators``)."""
    return Field(default, repr=False, json_schema_extra={"secret": True})


class ResourceProps(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        """The properties declared with :func:`secret`, as Pulumi spells them."""
        return tuple(sorted(
            field.alias or name for name, field in cls.model_fields.items()
            if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
        ))  # fmt: skip

    #: Inputs a change of which is no change to deploy (e.g. files a content hash covers).
    not_diffed: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Self:
        """The typed properties in ``raw`` (what Pulumi hands a provider)."""
        return cls.model_validate(dict(raw))

    @classmethod
    def diffed(cls) -> tuple[str, ...]:
        """The input names (as Pulumi spells them) whose change is a change to deploy."""
        names = (field.alias or name for name, field in cls.model_fields.items())
        return tuple(n for n in names if n not in cls.not_diffed)


class ApiRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    url: str
    project_ref: str


class OnDatabase(ResourceProps):
    conninfo: str = secret()


class OnManagementApi(ResourceProps):
    api: ApiRef
    token: str = secret()

    def client(self) -> ManagementApi:
        return ManagementApi(self.api.url, self.token, self.api.project_ref)


class MigrationProps(OnDatabase):
    app: str
    version: str
    name: str
    source: str
    checksum: str
    sql: str = Field(repr=False)
    down_sql: str | None = Field(default=None, repr=False)
    destructive: bool
    down_destructive: bool
    options: dict[str, Any]
    backups: dict[str, Any] | None = None

    def file(self) -> MigrationFile:
        return MigrationFile(
            self.app, self.version, self.name, self.source, self.sql, self.down_sql
        )

    def settings(self) -> MigrationSettings:
        return MigrationSettings.model_validate(self.options)


class RlsPolicyProps(OnDatabase):
    schema_: str = Field(alias="schema")
    table: str
    name: str
    command: str
    roles: list[str]
    mode: str
    using: str | None = None
    with_check: str | None = None

    def policy(self) -> rls.Policy:
        return rls.Policy(
            self.schema_, self.table, self.name, self.command, tuple(self.roles), self.mode,
            self.using, self.with_check,
        )  # fmt: skip


class RowLevelSecurityProps(OnDatabase):
    schema_: str = Field(alias="schema")
    table: str
    enabled: bool = True


class PublicationTablesProps(OnDatabase):
    publication: str
    tables: list[tuple[str, str]]


class PostgresSettingsProps(ResourceProps):
    conninfo: str = secret()
    token: str | None = secret(default=None)
    target: str
    local: dict[str, Any] | None = None
    api: ApiRef | None = None
    values: dict[str, str] = secret()  # secret like every ``values`` (checked by name)

    def client(self) -> ManagementApi | None:
        if self.api is None or self.token is None:
            return None
        return ManagementApi(self.api.url, self.token, self.api.project_ref)


class RealtimeConfigProps(OnManagementApi):
    values: dict[str, int] = secret()
    """Not secret in itself; secret because ``values`` is secret wherever it appears (the policy
    pack checks properties by name)."""


class ProjectSettingProps(OnManagementApi):
    kind: Literal["pooler", "ssl_enforcement", "network_restrictions"]
    value: dict[str, Any] = secret()
    """Secret like every ``value`` (the policy pack checks properties by name)."""


class ExposedSchemasProps(OnManagementApi):
    schemas: list[str]


class EdgeFunctionProps(OnManagementApi):
    not_diffed: ClassVar[frozenset[str]] = frozenset(
        {"files", "functions_url", "verify_jwt_off_reason"}
    )

    functions_url: str
    app: str
    slug: str
    hash: str
    verify_jwt: bool
    verify_jwt_off_reason: str | None = None
    files: dict[str, str] = Field(repr=False)

    def package(self) -> FunctionPackage:
        data = {path: text.encode() for path, text in self.files.items()}
        return FunctionPackage(self.app, self.slug, self.verify_jwt, data)


class FunctionSecretsProps(OnManagementApi):
    values: dict[str, str] = secret()
    digests: dict[str, str] | None = secret(default=None)
    """Output: the values' digests as the Management API lists them (a digest of a short
    secret can be guessed offline: secret too)."""

    not_diffed: ClassVar[frozenset[str]] = frozenset({"digests"})


class VaultSecretProps(OnDatabase):
    name: str
    value: str = secret()
    description: str = ""


class CronJobProps(OnDatabase):
    name: str
    schedule: str
    command: str
    database: str
    active: bool = True
    adopt: bool = False
    """Take over a job of this name that exists and matches (``supastack:adopt``)."""

    not_diffed: ClassVar[frozenset[str]] = frozenset({"adopt"})

    def job(self) -> cron.Job:
        return cron.Job(self.name, self.schedule, self.command, self.database, self.active)


class MaterializedViewRefreshProps(CronJobProps):
    app_conninfo: str = secret()
    """The app's database, where the view is (``conninfo`` is pg_cron's)."""
    source: str
    schema_: str = Field(alias="schema")
    view: str
    concurrently: bool

    def refresh(self) -> Refresh:
        return Refresh(self.schema_, self.view, self.concurrently)


class PartitionSetProps(OnDatabase):
    schema_: str = Field(alias="schema")
    table: str
    control: str
    interval: str
    premake: int
    retention: str | None = None
    retention_keep_table: bool = True

    def partitions(self) -> PartitionSet:
        return PartitionSet(
            self.schema_, self.table, self.control, self.interval, self.premake,
            self.retention, self.retention_keep_table,
        )  # fmt: skip


class AlertRuleProps(OnDatabase):
    name: str
    severity: str
    metric_sql: str
    comparison: str
    threshold: float
    window_length: str
    for_duration: str
    repeat_every: str
    channels: list[str]

    def rule(self) -> alerts.Rule:
        return alerts.Rule(
            self.name, self.severity, self.metric_sql, self.comparison, self.threshold,
            self.window_length, self.for_duration, self.repeat_every, tuple(self.channels),
        )  # fmt: skip


class AlertChannelProps(OnDatabase):
    name: str
    type: str
    secret_name: str
    endpoint: str | None = None
    severities: list[str]

    def channel(self) -> alerts.Channel:
        return alerts.Channel(
            self.name, self.type, self.secret_name, self.endpoint, tuple(self.severities)
        )


class SeedDataProps(OnDatabase):
    app: str
    name: str
    source: str
    checksum: str
    sql: str = Field(repr=False)

    def seed(self) -> seeds.SeedFile:
        return seeds.SeedFile(self.app, self.name, self.source, self.sql)


class FeatureFlagProps(OnDatabase):
    name: str
    app: str
    description: str
    enabled: bool
    percentage: float
    """Two decimals at most (``supastack.flags.specs.Percentage``), exact as a float."""
    allow: list[str]

    def flag(self) -> Flag:
        return Flag(
            self.name, self.app, self.description, self.enabled,
            Decimal(str(self.percentage)), tuple(self.allow),
        )  # fmt: skip

    @staticmethod
    def values_of(flag: Flag) -> dict[str, Any]:
        """A flag as the resource's properties (what the program declares and ``read`` finds)."""
        return {
            "name": flag.name, "app": flag.app, "description": flag.description,
            "enabled": flag.enabled, "percentage": float(flag.percentage),
            "allow": list(flag.allow),
        }  # fmt: skip


def all_secret_fields() -> tuple[str, ...]:
    """Every property any resource declares secret (what the policy pack checks for)."""
    found: set[str] = set()
    pending: list[type[ResourceProps]] = [ResourceProps]
    while pending:
        kind = pending.pop()
        found |= set(kind.secret_fields())
        pending += kind.__subclasses__()
    return tuple(sorted(found))
