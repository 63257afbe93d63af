"""Alert rules and channels: rendered from manifests and stack config, kept as rows.

``monitoring.evaluate_alerts()`` (the monitoring app's migrations, run every minute by pg_cron)
does the evaluating and notifying; this module declares what it evaluates. A rule's metric is a
query returning one number with ``$1`` standing for its window; helpers cover the common cases.
Before a rule is written its query is run once, read-only, so SQL that does not run is refused
naming the rule, and no row is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import psycopg
from pglast import ast
from psycopg import sql

from supastack.config.manifest import AppManifest
from supastack.config.settings import AlertChannel
from supastack.database import sqltext
from supastack.database.postgres import connect
from supastack.errors import SupastackError
from supastack.operations.specs import AlertRuleSpec, MetricSpec

_RULE_COLUMNS = (
    "severity", "metric_sql", "comparison", "threshold", "window_length", "for_duration",
    "repeat_every", "channels",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    metric_sql: str
    comparison: str
    threshold: float
    window_length: str
    for_duration: str
    repeat_every: str
    channels: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "channels": list(self.channels)}


@dataclass(frozen=True)
class Channel:
    name: str
    type: str
    secret_name: str
    endpoint: str | None
    severities: tuple[str, ...]


def metric_sql(metric: MetricSpec) -> str:
    """The query of a metric; helpers are called with the rule's window as ``$1``."""
    helpers = {
        "function_error_rate": metric.function_error_rate,
        "function_p95_ms": metric.function_p95_ms,
        "cron_failures": metric.cron_failures,
    }
    for helper, argument in helpers.items():
        if argument is not None:
            return (
                sql.SQL("SELECT monitoring.{}({}, $1)")
                .format(sql.SQL(helper), sql.Literal(argument))  # a fixed helper name
                .as_string()
            )
    assert metric.sql is not None
    return metric.sql


def plan_rules(manifest: AppManifest, channels: Mapping[str, AlertChannel]) -> list[Rule]:
    """The app's rules, with channels that exist and queries that are one SELECT."""
    rules = []
    for index, spec in enumerate(manifest.alerts):
        where = f"{manifest.source}: alerts.{index} ({spec.name})"
        unknown = sorted(set(spec.channels) - set(channels))
        if unknown:
            raise SupastackError(
                f"{where}: channel {unknown[0]!r} is not in supastack:alertChannels "
                f"(known: {', '.join(sorted(channels)) or 'none'})"
            )
        query = metric_sql(spec.metric)
        statements = sqltext.split(query, f"{where}: metric")
        if len(statements) != 1 or not isinstance(statements[0].node, ast.SelectStmt):
            raise SupastackError(f"{where}: metric.sql must be one SELECT returning one number")
        rules.append(_rule(spec, query, channels))
    return rules


def _rule(spec: AlertRuleSpec, query: str, channels: Mapping[str, AlertChannel]) -> Rule:
    chosen = spec.channels or sorted(channels)
    return Rule(
        spec.name,
        spec.severity,
        query,
        spec.comparison,
        spec.threshold,
        spec.window,
        spec.for_duration,
        spec.repeat_every,
        tuple(chosen),
    )


def channel_of(name: str, config: AlertChannel) -> Channel:
    return Channel(name, config.type, config.secret, config.endpoint, tuple(config.severities))


#: SQLSTATEs of objects a pending migration may still create (not errors at preview).
NOT_YET_CREATED = frozenset({"42P01", "42703", "42883", "3F000"})


def metric_error(conninfo: str, rule: Rule) -> psycopg.Error | None:
    """Run the rule's metric once, read-only and rolled back; the error if it does not run."""
    with connect(conninfo, subject=f"alert rule {rule.name!r}") as conn:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute("SET LOCAL statement_timeout = '10s'")
                conn.execute(
                    "SELECT monitoring.metric_value(%s, %s::interval)",
                    [rule.metric_sql, rule.window_length],
                )
        except psycopg.Error as exc:
            return exc
    return None


def refusal(rule: Rule, error: psycopg.Error) -> str:
    return f"alert rule {rule.name!r}: its metric does not run: {error.diag.message_primary}"


def put_rule(conninfo: str, rule: Rule) -> None:
    """Run the metric once (read-only), then insert or update the rule, keeping its state."""
    error = metric_error(conninfo, rule)
    if error is not None:
        raise SupastackError(refusal(rule, error))
    with connect(conninfo, subject=f"alert rule {rule.name!r}") as conn:
        conn.execute(
            "INSERT INTO monitoring.alert_rules (name, severity, metric_sql, comparison, "
            "threshold, window_length, for_duration, repeat_every, channels) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "severity = EXCLUDED.severity, metric_sql = EXCLUDED.metric_sql, "
            "comparison = EXCLUDED.comparison, threshold = EXCLUDED.threshold, "
            "window_length = EXCLUDED.window_length, for_duration = EXCLUDED.for_duration, "
            "repeat_every = EXCLUDED.repeat_every, channels = EXCLUDED.channels",
            [rule.name, *(_value(getattr(rule, c)) for c in _RULE_COLUMNS)],
        )


def _value(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def read_rule(conninfo: str, name: str) -> Rule | None:
    """The rule as stored (intervals as Postgres prints them)."""
    with connect(conninfo) as conn:
        row = conn.execute(
            "SELECT name, severity, metric_sql, comparison, threshold, window_length::text, "
            "for_duration::text, repeat_every::text, channels FROM monitoring.alert_rules "
            "WHERE name = %s",
            [name],
        ).fetchone()
    if row is None:
        return None
    name, severity, query, comparison, threshold, window, for_duration, repeat, channels = row
    return Rule(
        name, severity, query, comparison, threshold, window, for_duration, repeat, tuple(channels)
    )


def delete_rule(conninfo: str, name: str) -> None:
    """Remove the rule; its events stay."""
    with connect(conninfo) as conn:
        conn.execute("DELETE FROM monitoring.alert_rules WHERE name = %s", [name])


def put_channel(conninfo: str, channel: Channel) -> None:
    with connect(conninfo, subject=f"alert channel {channel.name!r}") as conn:
        conn.execute(
            "INSERT INTO monitoring.alert_channels (name, type, secret_name, endpoint, severities) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET type = EXCLUDED.type, "
            "secret_name = EXCLUDED.secret_name, endpoint = EXCLUDED.endpoint, "
            "severities = EXCLUDED.severities",
            [
                channel.name,
                channel.type,
                channel.secret_name,
                channel.endpoint,
                list(channel.severities),
            ],
        )


def read_channel(conninfo: str, name: str) -> Channel | None:
    with connect(conninfo) as conn:
        row = conn.execute(
            "SELECT name, type, secret_name, endpoint, severities FROM monitoring.alert_channels "
            "WHERE name = %s",
            [name],
        ).fetchone()
    if row is None:
        return None
    name, kind, secret_name, endpoint, severities = row
    return Channel(name, kind, secret_name, endpoint, tuple(severities))


def delete_channel(conninfo: str, name: str) -> None:
    with connect(conninfo) as conn:
        conn.execute("DELETE FROM monitoring.alert_channels WHERE name = %s", [name])


def evaluate(conninfo: str) -> int:
    """One evaluation pass (what the pg_cron job runs every minute); the rules evaluated."""
    with connect(conninfo) as conn:
        row = conn.execute("SELECT monitoring.evaluate_alerts()").fetchone()
    return int(row[0]) if row else 0
