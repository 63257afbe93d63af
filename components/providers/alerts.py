"""AlertRule and AlertChannel dynamic resources: rows that monitoring.evaluate_alerts() reads."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from components.providers.base import DeclarativeProvider, gone, with_secret_outputs
from supastack import alerts
from supastack.errors import SupastackError

_RULE_FIELDS = (
    "name", "severity", "metric_sql", "comparison", "threshold", "window_length",
    "for_duration", "repeat_every", "channels",
)  # fmt: skip
_CHANNEL_FIELDS = ("name", "type", "secret_name", "endpoint", "severities")


def _rule(props: dict[str, Any]) -> alerts.Rule:
    values = {field: props[field] for field in _RULE_FIELDS}
    return alerts.Rule(**{**values, "channels": tuple(values["channels"])})


class AlertRuleProvider(DeclarativeProvider):
    """Write the rule (after running its metric once); ``read`` compares against the row as
    Postgres stored it at deploy, so interval spelling is not drift."""

    inputs: ClassVar[tuple[str, ...]] = ("conninfo", *_RULE_FIELDS)
    replace_on: ClassVar[tuple[str, ...]] = ("name",)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """At preview: a metric that fails for any reason but a missing table, column or
        function (which a pending migration may create) is refused before anything applies."""
        rule = _rule(news)
        try:
            error = alerts.metric_error(news["conninfo"], rule)
        except SupastackError:
            return CheckResult(news, [])  # database unreachable: create runs the check again
        if error is None or error.sqlstate in alerts.NOT_YET_CREATED:
            return CheckResult(news, [])
        return CheckResult(news, [CheckFailure("metric_sql", alerts.refusal(rule, error))])

    def _put(self, props: dict[str, Any]) -> dict[str, Any]:
        alerts.put_rule(props["conninfo"], _rule(props))
        stored = alerts.read_rule(props["conninfo"], props["name"])
        assert stored is not None
        return {**props, "stored": stored.as_dict()}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["name"], self._put(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._put(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        alerts.delete_rule(props["conninfo"], props["name"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = alerts.read_rule(props["conninfo"], props["name"])
        if live is None:
            return gone()
        if live.as_dict() == props["stored"]:
            return ReadResult(id_, props)
        return ReadResult(id_, {**props, **live.as_dict(), "stored": live.as_dict()})


class AlertRule(Resource, module="alerts", name="AlertRule"):
    """An alert rule."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            AlertRuleProvider(), name, {**props, "stored": None}, with_secret_outputs(opts)
        )


def _channel(props: dict[str, Any]) -> alerts.Channel:
    values = {field: props[field] for field in _CHANNEL_FIELDS}
    return alerts.Channel(**{**values, "severities": tuple(values["severities"])})


class AlertChannelProvider(DeclarativeProvider):
    """A channel row; the URL or key it needs stays in Vault under ``secret_name``."""

    inputs: ClassVar[tuple[str, ...]] = ("conninfo", *_CHANNEL_FIELDS)
    replace_on: ClassVar[tuple[str, ...]] = ("name",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        alerts.put_channel(props["conninfo"], _channel(props))
        return CreateResult(props["name"], props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        alerts.put_channel(news["conninfo"], _channel(news))
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        alerts.delete_channel(props["conninfo"], props["name"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = alerts.read_channel(props["conninfo"], props["name"])
        if live is None:
            return gone()
        return ReadResult(
            id_,
            {
                **props,
                "type": live.type,
                "secret_name": live.secret_name,
                "endpoint": live.endpoint,
                "severities": list(live.severities),
            },
        )


class AlertChannel(Resource, module="alerts", name="AlertChannel"):
    """A notification channel."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(AlertChannelProvider(), name, props, with_secret_outputs(opts))
