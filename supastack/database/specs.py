"""The database part of an app manifest: extensions, roles, grants, default privileges, row
level security policies, Realtime limits, partitioned tables and materialized views.

Identifiers (roles, tables, policies) may be any Postgres name: they are always quoted when
rendered, never pasted. SQL expressions (a policy's ``using`` and ``withCheck``) are parsed
here, so an expression that smuggles in a second statement is refused before it reaches a
database.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from psycopg import sql
from pydantic import AfterValidator, Field, model_validator

from supastack.config.models import ConfigModel
from supastack.database import sqltext

#: Extensions Supabase pins to a schema: pg_cron must live in pg_catalog.
PINNED_SCHEMAS = {"pg_cron": "pg_catalog"}
#: Schemas every Supabase database has; an extension installed elsewhere gets its schema made.
PLATFORM_SCHEMAS = frozenset({"extensions", "pg_catalog", "public"})
#: Where an extension goes when the manifest does not say (else ``extensions``): Supabase's
#: guide installs pg_partman in a schema of its own.
DEFAULT_SCHEMAS = {"pg_partman": "partman"}
MAX_IDENTIFIER = 63


def _identifier(value: str) -> str:
    if not value or len(value.encode()) > MAX_IDENTIFIER or "\x00" in value:
        raise ValueError(f"{value!r} is not a Postgres identifier (1 to 63 bytes, no NUL)")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]

_SPAN = re.compile(r"^[1-9][0-9]* (hour|day|week|month|year)s?$")


def _span(value: str) -> str:
    if not _SPAN.match(value):
        raise ValueError(
            f"{value!r} is not a span such as '1 month', '7 days' or '1 year' "
            "(a number, then hour, day, week, month or year)"
        )
    return value


#: A calendar span (``1 month``, ``90 days``): a partition's width or a retention.
Span = Annotated[str, AfterValidator(_span)]
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
        default = DEFAULT_SCHEMAS.get(self.name, "extensions")
        return self.schema_ or PINNED_SCHEMAS.get(self.name, default)

    def create_statements(self) -> list[sql.Composed]:
        """The SQL that installs it where it belongs, its own schema first if it has one."""
        home = sql.Identifier(self.schema_name)
        statements = []
        if self.schema_name not in PLATFORM_SCHEMAS:
            statements.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(home))
        statements.append(
            sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}").format(
                sql.Identifier(self.name), home
            )
        )
        return statements

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


class RealtimeConfigSpec(ConfigModel):
    """Supabase Realtime limits (Management API ``config/realtime``); the local target has no
    Realtime server, so there they do not apply."""

    max_concurrent_users: int | None = Field(default=None, ge=1, le=50_000)
    max_events_per_second: int | None = Field(default=None, ge=1, le=50_000)
    max_channels_per_client: int | None = Field(default=None, ge=1, le=10_000)

    def api_values(self) -> dict[str, int]:
        """The API's body: snake_case keys, only what is set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class PartitionSpec(ConfigModel):
    """A table partitioned by range of a time column, handed to pg_partman.

    The table itself (``PARTITION BY RANGE (control)``) comes from a migration.
    """

    table: Identifier
    control: Identifier
    """The column the table is partitioned by (a timestamp or date)."""
    interval: Span
    """The width of one partition: ``1 month``, ``1 day``, ..."""
    premake: int = Field(default=4, ge=1, le=100)
    """How many partitions ahead of now exist at all times."""
    retention: Span | None = None
    """How long partitions stay attached; none: forever."""
    retention_mode: Literal["detach", "drop"] = "detach"
    """Past retention: ``detach`` keeps the partition as a table of its own (archive it, then
    drop it), ``drop`` deletes it with its rows."""
    maintenance: str = "@hourly"
    """The pg_cron schedule of pg_partman's maintenance (premake and retention)."""


class MaterializedViewSpec(ConfigModel):
    """A materialized view (created by a migration) refreshed by a pg_cron job."""

    view: Identifier
    schedule: str
    concurrently: bool = False
    """Refresh without blocking readers; needs a unique index on the view (checked first)."""
