"""The stack outputs: the contract between a deploy and the smoke tests that check it.

The program exports these keys (camelCase, ``pulumi stack output --json --show-secrets``
prints them); the smoke tests load that JSON back into :class:`StackOutputs`. Secrets (the
database URL, API keys, the Management API token) are exported as Pulumi secrets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from supastack import sealed
from supastack.delivery.specs import VerifySpec
from supastack.errors import SupastackError


class _Output(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class FunctionOutput(_Output):
    url: str
    version: int | None = None
    hash: str
    verify_jwt: bool


class MigrationOutput(_Output):
    version: str
    name: str
    checksum: str


class CronJobOutput(_Output):
    name: str
    schedule: str
    active: bool


class MaterializedViewOutput(_Output):
    schema_: str = Field(alias="schema")
    view: str
    job: str
    """The pg_cron job that refreshes it."""


class AlertRuleOutput(_Output):
    name: str
    severity: str


class FlagOutput(_Output):
    name: str
    enabled: bool
    percentage: float


class ManagementApiOutput(_Output):
    url: str
    project_ref: str
    token: str = Field(repr=False)


class DeclaredOutput(_Output):
    """What the stack declares that the live database must not hold more of (its policies on
    the apps' tables, its extensions' schemas): ``supastack.database.declared``."""

    schemas: list[str] = Field(default_factory=list)
    policies: list[list[str]] = Field(default_factory=list)
    """``[schema, table, name]`` of each declared policy."""
    extensions: dict[str, str] = Field(default_factory=dict)
    """Each declared extension's schema."""


class StackOutputs(_Output):
    """Everything the smoke tests need to find and check a deployed stack."""

    stack: str
    target: str
    database_url: str = Field(repr=False)
    cron_database: str
    functions_url: str
    anon_key: str | None = Field(default=None, repr=False)
    service_role_key: str | None = Field(default=None, repr=False)
    jwt_secret: str | None = Field(default=None, repr=False)
    """The legacy HS256 secret: signs a fresh user's token for the ``user`` probes of
    ``verify:`` where no signing key is given."""
    publishable_key: str | None = Field(default=None, repr=False)
    """``sb_publishable_…``: the anonymous probes' key where set (else the anon key)."""
    secret_key: str | None = Field(default=None, repr=False)
    """``sb_secret_…``: the service probes' key where set (else the service role key)."""
    jwt_signing_key: str | None = Field(default=None, repr=False)
    """A private JWK the project's Auth trusts (ES256): signs the ``user`` probes' token."""
    management_api: ManagementApiOutput
    functions: dict[str, FunctionOutput] = Field(default_factory=dict)
    migrations: dict[str, list[MigrationOutput]] = Field(default_factory=dict)
    rls_tables: dict[str, list[str]] = Field(default_factory=dict)
    """Per app, the ``schema.table`` names under row level security."""
    public_tables: dict[str, list[str]] = Field(default_factory=dict)
    """Per app, the tables a policy opens to everyone (``anon``): rows there are no leak."""
    cron_jobs: list[CronJobOutput] = Field(default_factory=list)
    materialized_views: list[MaterializedViewOutput] = Field(default_factory=list)
    """The views refreshed on a schedule, with their jobs."""
    alert_rules: list[AlertRuleOutput] = Field(default_factory=list)
    alert_channels: list[str] = Field(default_factory=list)
    flags: list[FlagOutput] = Field(default_factory=list)
    """The feature flags as the stack sets them (a rollout's steps change them)."""
    exposed_schemas: list[str] = Field(default_factory=list)
    """The schemas the apps expose to the Data API (``api:``)."""
    log_drains: list[str] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)
    """Names of the function secrets the stack manages."""
    verify: dict[str, VerifySpec] = Field(default_factory=dict)
    """Per app, its manifest's ``verify:`` section."""
    declared: DeclaredOutput | None = None
    """None for a stack deployed before this output existed (smoke then skips the check)."""


#: Where ``supastack local deploy`` writes the local stack's outputs (in its state directory).
OFFLINE_OUTPUTS = "outputs.json"


def load(path: Path) -> StackOutputs:
    """Read ``pulumi stack output --json --show-secrets`` saved to a file, or the offline
    applier's outputs file (its secrets sealed: opened with the stack key beside it)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SupastackError(f"{path}: cannot read stack outputs: {exc}") from None
    return _validated(sealed.opened(path, _json(text, str(path))), str(path))


def parse(text: str, origin: str) -> StackOutputs:
    """The outputs in ``text`` (JSON); errors name ``origin`` and never echo the text."""
    return _validated(_json(text, origin), origin)


def _json(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SupastackError(f"{origin}: cannot read stack outputs: {exc}") from None


def _validated(data: Any, origin: str) -> StackOutputs:
    try:
        return StackOutputs.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise SupastackError(
            f"{origin}: not the stack outputs of this program (missing or wrong: {fields}); "
            "was it written with --show-secrets?"
        ) from None
