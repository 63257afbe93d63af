"""The PartitionSet dynamic resource: a partitioned table registered with pg_partman."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Self

from pulumi.dynamic import CheckFailure, CheckResult
from pydantic import Field

from components.providers.base import TypedProvider, TypedResource
from supastack.database import partitions
from supastack.resource_props import Deferred, OnDatabase

_FIXED = ("control", "interval")


class PartitionSetProps(OnDatabase):
    schema_: str = Field(alias="schema")
    table: str
    control: str
    interval: str
    premake: int
    retention: str | None = None
    retention_keep_table: bool = True

    @classmethod
    def for_partitions(cls, conninfo: Deferred[str], table: partitions.PartitionSet) -> Self:
        return cls.declared(conninfo=conninfo, **asdict(table))

    def partitions(self) -> partitions.PartitionSet:
        return partitions.PartitionSet(
            self.schema_, self.table, self.control, self.interval, self.premake,
            self.retention, self.retention_keep_table,
        )  # fmt: skip


class PartitionSetProvider(TypedProvider[PartitionSetProps]):
    """create registers the parent (premaking partitions), update changes premake and retention,
    delete unregisters it (the partitions and their rows stay); ``read`` reports drift from
    pg_partman's configuration, which the next deploy puts back."""

    props_type = PartitionSetProps
    replace_on = ("schema", "table")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """A changed control column or interval fails the preview: pg_partman cannot change
        either in place, and unregistering and registering again would not repartition."""
        same_table = olds and (olds.get("schema"), olds.get("table")) == (
            news.get("schema"), news.get("table"),
        )  # fmt: skip
        failures = [
            CheckFailure(
                key,
                f"partitions of {news['schema']}.{news['table']}: {key} was {olds[key]!r} and "
                f"is now {news[key]!r}; pg_partman cannot change it for a registered table: "
                "partition a new table and move the rows in a migration",
            )
            for key in _FIXED
            if same_table and olds.get(key) not in (None, news.get(key))
        ]
        return CheckResult(news, failures)

    def identify(self, props: PartitionSetProps) -> str:
        return props.partitions().parent

    def put(self, props: PartitionSetProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        if before is None:
            partitions.register(props.conninfo, props.partitions())
        else:
            partitions.configure(props.conninfo, props.partitions())
        return {}

    def remove(self, props: PartitionSetProps) -> None:
        partitions.unregister(props.conninfo, props.partitions())

    def observe(
        self, props: PartitionSetProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        live = partitions.read(props.conninfo, props.partitions())
        return None if live is None else asdict(live)


class PartitionSet(TypedResource[PartitionSetProps], module="database", name="PartitionSet"):
    """A table partitioned by time, managed by pg_partman."""

    provider_type = PartitionSetProvider
