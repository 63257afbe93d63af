"""The PublicationTables dynamic resource: an app's tables in a publication (Realtime)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from components.providers.base import TypedProvider, TypedResource
from supastack.database import publication
from supastack.resource_props import Deferred, OnDatabase


class PublicationTablesProps(OnDatabase):
    publication: str
    tables: list[tuple[str, str]]

    @classmethod
    def for_tables(cls, conninfo: Deferred[str], name: str, schema: str, tables: list[str]) -> Self:
        return cls.declared(
            conninfo=conninfo, publication=name, tables=[[schema, table] for table in tables]
        )


class PublicationTablesProvider(TypedProvider[PublicationTablesProps]):
    """Add and drop only the declared tables; others in the publication are left alone."""

    props_type = PublicationTablesProps
    replace_on = ("publication",)

    def identify(self, props: PublicationTablesProps) -> str:
        return props.publication

    def put(
        self, props: PublicationTablesProps, before: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if before is not None:
            removed = set(self.typed(before).tables) - set(props.tables)
            publication.drop_tables(props.conninfo, props.publication, removed)
        publication.add_tables(props.conninfo, props.publication, props.tables)
        return {}

    def remove(self, props: PublicationTablesProps) -> None:
        publication.drop_tables(props.conninfo, props.publication, props.tables)

    def observe(
        self, props: PublicationTablesProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        present = publication.members(props.conninfo, props.publication, props.tables)
        return {"tables": [list(t) for t in present]}


class PublicationTables(
    TypedResource[PublicationTablesProps], module="database", name="PublicationTables"
):
    """Tables of one app in a publication (``supabase_realtime``)."""

    provider_type = PublicationTablesProvider
