"""The operations part of an app manifest: cron jobs and alert rules."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from supastack.config.models import ConfigModel, SecretName
from supastack.config.settings import Duration, Severity
from supastack.database.specs import Identifier


class FunctionTarget(ConfigModel):
    """A job that calls a function of the app with a JSON body, as a scheduled job."""

    slug: str
    body: dict[str, object] = Field(default_factory=dict)
    token_secret: SecretName = "JOB_SECRET"  # noqa: S105 (a name, not a value)
    """The Vault secret sent as the bearer token (declare it with ``vault: true``)."""


class CronJobSpec(ConfigModel):
    """A pg_cron job: SQL, or a call of one of the app's functions."""

    name: Identifier
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

    name: Identifier
    severity: Severity
    metric: MetricSpec
    comparison: Literal[">", ">=", "<", "<=", "=", "<>"] = ">"
    threshold: float
    window: Duration = "5min"
    for_duration: Duration = Field(default="0", alias="for")
    repeat_every: Duration = "1h"
    channels: list[str] = Field(default_factory=list)
    """Channels of ``supastack:alertChannels`` (default: all of them)."""
