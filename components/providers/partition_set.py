"""The PartitionSet dynamic resource: a partitioned table registered with pg_partman."""

from __future__ import annotations

from dataclasses import asdict
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
from supastack.database import partitions
from supastack.resource_props import PartitionSetProps

#: What pg_partman cannot change on a registered set.
_FIXED = ("control", "interval")


class PartitionSetProvider(DeclarativeProvider[PartitionSetProps]):
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

    def create(self, props: dict[str, Any]) -> CreateResult:
        wanted = self.typed(props)
        partitions.register(wanted.conninfo, wanted.partitions())
        return CreateResult(wanted.partitions().parent, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        wanted = self.typed(news)
        partitions.configure(wanted.conninfo, wanted.partitions())
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        wanted = self.typed(props)
        partitions.unregister(wanted.conninfo, wanted.partitions())

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        wanted = self.typed(props)
        live = partitions.read(wanted.conninfo, wanted.partitions())
        if live is None:
            return gone()
        return ReadResult(id_, {**props, **asdict(live)})


class PartitionSet(Resource, module="database", name="PartitionSet"):
    """A table partitioned by time, managed by pg_partman."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            PartitionSetProvider(),
            name,
            props,
            with_secret_outputs(opts, PartitionSetProvider.props_type),
        )
