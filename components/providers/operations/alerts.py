"""AlertRule and AlertChannel dynamic resources: rows that monitoring.evaluate_alerts() reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pulumi.dynamic import CheckFailure, CheckResult

from components.providers.base import TypedProvider, TypedResource
from supastack.errors import SupastackError
from supastack.operations import alerts
from supastack.resource_props import Deferred, OnDatabase


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

    @classmethod
    def for_rule(cls, conninfo: Deferred[str], rule: alerts.Rule) -> Self:
        return cls.declared(conninfo=conninfo, **rule.as_dict())

    def rule(self) -> alerts.Rule:
        return alerts.Rule(
            self.name, self.severity, self.metric_sql, self.comparison, self.threshold,
            self.window_length, self.for_duration, self.repeat_every, tuple(self.channels),
        )  # fmt: skip


class AlertRuleProvider(TypedProvider[AlertRuleProps]):
    """Write the rule (after running its metric once); ``read`` compares against the row as
    Postgres stored it at deploy, so interval spelling is not drift."""

    props_type = AlertRuleProps
    replace_on = ("name",)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """At preview: a metric that fails for any reason but a missing table, column or
        function (which a pending migration may create) is refused before anything applies."""
        declared = self.typed(news)
        rule = declared.rule()
        try:
            error = alerts.metric_error(declared.conninfo, rule)
        except SupastackError:
            return CheckResult(news, [])  # database unreachable: create runs the check again
        if error is None or error.sqlstate in alerts.NOT_YET_CREATED:
            return CheckResult(news, [])
        return CheckResult(news, [CheckFailure("metric_sql", alerts.refusal(rule, error))])

    def identify(self, props: AlertRuleProps) -> str:
        return props.name

    def put(self, props: AlertRuleProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        alerts.put_rule(props.conninfo, props.rule())
        stored = alerts.read_rule(props.conninfo, props.name)
        assert stored is not None
        return {"stored": stored.as_dict()}

    def remove(self, props: AlertRuleProps) -> None:
        alerts.delete_rule(props.conninfo, props.name)

    def observe(self, props: AlertRuleProps, recorded: Mapping[str, Any]) -> dict[str, Any] | None:
        live = alerts.read_rule(props.conninfo, props.name)
        if live is None:
            return None
        if live.as_dict() == recorded["stored"]:
            return {}
        return {**live.as_dict(), "stored": live.as_dict()}


class AlertRule(TypedResource[AlertRuleProps], module="alerts", name="AlertRule"):
    """An alert rule."""

    provider_type = AlertRuleProvider
    outputs = ("stored",)


class AlertChannelProps(OnDatabase):
    name: str
    type: str
    secret_name: str
    endpoint: str | None = None
    severities: list[str]

    @classmethod
    def for_channel(cls, conninfo: Deferred[str], channel: alerts.Channel) -> Self:
        return cls.declared(
            conninfo=conninfo, name=channel.name, type=channel.type,
            secret_name=channel.secret_name, endpoint=channel.endpoint,
            severities=list(channel.severities),
        )  # fmt: skip

    def channel(self) -> alerts.Channel:
        return alerts.Channel(
            self.name, self.type, self.secret_name, self.endpoint, tuple(self.severities)
        )


class AlertChannelProvider(TypedProvider[AlertChannelProps]):
    """A channel row; the URL or key it needs stays in Vault under ``secret_name``."""

    props_type = AlertChannelProps
    replace_on = ("name",)

    def identify(self, props: AlertChannelProps) -> str:
        return props.name

    def put(self, props: AlertChannelProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        alerts.put_channel(props.conninfo, props.channel())
        return {}

    def remove(self, props: AlertChannelProps) -> None:
        alerts.delete_channel(props.conninfo, props.name)

    def observe(
        self, props: AlertChannelProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        live = alerts.read_channel(props.conninfo, props.name)
        if live is None:
            return None
        return {
            "type": live.type, "secret_name": live.secret_name, "endpoint": live.endpoint,
            "severities": list(live.severities),
        }  # fmt: skip


class AlertChannel(TypedResource[AlertChannelProps], module="alerts", name="AlertChannel"):
    """A notification channel."""

    provider_type = AlertChannelProvider
