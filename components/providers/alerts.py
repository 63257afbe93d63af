"""AlertRule and AlertChannel dynamic resources: rows that monitoring.evaluate_alerts() reads."""

from __future__ import annotations

from typing import Any

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
from supastack.errors import SupastackError
from supastack.operations import alerts
from supastack.resource_props import AlertChannelProps, AlertRuleProps


class AlertRuleProvider(DeclarativeProvider[AlertRuleProps]):
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

    def _put(self, props: dict[str, Any]) -> dict[str, Any]:
        declared = self.typed(props)
        alerts.put_rule(declared.conninfo, declared.rule())
        stored = alerts.read_rule(declared.conninfo, declared.name)
        assert stored is not None
        return {**props, "stored": stored.as_dict()}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["name"], self._put(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._put(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        declared = self.typed(props)
        alerts.delete_rule(declared.conninfo, declared.name)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        declared = self.typed(props)
        live = alerts.read_rule(declared.conninfo, declared.name)
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
            AlertRuleProvider(),
            name,
            {**props, "stored": None},
            with_secret_outputs(opts, AlertRuleProvider.props_type),
        )


class AlertChannelProvider(DeclarativeProvider[AlertChannelProps]):
    """A channel row; the URL or key it needs stays in Vault under ``secret_name``."""

    props_type = AlertChannelProps
    replace_on = ("name",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        declared = self.typed(props)
        alerts.put_channel(declared.conninfo, declared.channel())
        return CreateResult(declared.name, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        declared = self.typed(news)
        alerts.put_channel(declared.conninfo, declared.channel())
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        declared = self.typed(props)
        alerts.delete_channel(declared.conninfo, declared.name)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        declared = self.typed(props)
        live = alerts.read_channel(declared.conninfo, declared.name)
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
        super().__init__(
            AlertChannelProvider(),
            name,
            props,
            with_secret_outputs(opts, AlertChannelProvider.props_type),
        )
