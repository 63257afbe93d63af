"""The PublicationTables dynamic resource: an app's tables in the realtime publication."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack.database import publication
from supastack.resource_props import PublicationTablesProps


class PublicationTablesProvider(DeclarativeProvider[PublicationTablesProps]):
    """Add and drop only the declared tables; others in the publication are left alone."""

    props_type = PublicationTablesProps
    replace_on = ("publication",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        member = self.typed(props)
        publication.add_tables(member.conninfo, member.publication, member.tables)
        return CreateResult(member.publication, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        before, member = self.typed(olds), self.typed(news)
        removed = set(before.tables) - set(member.tables)
        publication.drop_tables(member.conninfo, member.publication, removed)
        publication.add_tables(member.conninfo, member.publication, member.tables)
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        member = self.typed(props)
        publication.drop_tables(member.conninfo, member.publication, member.tables)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        member = self.typed(props)
        present = publication.members(member.conninfo, member.publication, member.tables)
        return ReadResult(id_, {**props, "tables": [list(t) for t in present]})


class PublicationTables(Resource, module="database", name="PublicationTables"):
    """Tables of one app in a publication (``supabase_realtime``)."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            PublicationTablesProvider(),
            name,
            props,
            with_secret_outputs(opts, PublicationTablesProvider.props_type),
        )
