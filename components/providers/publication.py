"""The PublicationTables dynamic resource: an app's tables in the realtime publication."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack import publication


def _tables(props: dict[str, Any]) -> list[publication.Table]:
    return [(schema, table) for schema, table in props["tables"]]


class PublicationTablesProvider(DeclarativeProvider):
    """Add and drop only the declared tables; others in the publication are left alone."""

    inputs: ClassVar[tuple[str, ...]] = ("conninfo", "publication", "tables")
    replace_on: ClassVar[tuple[str, ...]] = ("publication",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        publication.add_tables(props["conninfo"], props["publication"], _tables(props))
        return CreateResult(props["publication"], props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        removed = set(_tables(olds)) - set(_tables(news))
        publication.drop_tables(news["conninfo"], news["publication"], removed)
        publication.add_tables(news["conninfo"], news["publication"], _tables(news))
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        publication.drop_tables(props["conninfo"], props["publication"], _tables(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        present = publication.members(props["conninfo"], props["publication"], _tables(props))
        return ReadResult(id_, {**props, "tables": [list(t) for t in present]})


class PublicationTables(Resource, module="database", name="PublicationTables"):
    """Tables of one app in a publication (``supabase_realtime``)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(PublicationTablesProvider(), name, props, with_secret_outputs(opts))
