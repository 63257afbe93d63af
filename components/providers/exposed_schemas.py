"""The ExposedSchemas dynamic resource: the apps' ``api:`` schemas in the Data API's config."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack.database import exposed_schemas
from supastack.resource_props import ExposedSchemasProps


class ExposedSchemasProvider(DeclarativeProvider[ExposedSchemasProps]):
    """Merge the stack's schemas into ``db_schema``; ``read`` reports one taken out by hand."""

    props_type = ExposedSchemasProps

    def create(self, props: dict[str, Any]) -> CreateResult:
        exposed = self.typed(props)
        live, added = exposed_schemas.apply(exposed.client(), exposed.schemas)
        return CreateResult("postgrest-db-schema", {**props, "db_schema": live, "added": added})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        exposed = self.typed(news)
        live, added = exposed_schemas.apply(exposed.client(), exposed.schemas, olds["added"])
        return UpdateResult({**news, "db_schema": live, "added": added})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        exposed_schemas.apply(self.typed(props).client(), [], props["added"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        exposed = self.typed(props)
        gone = exposed_schemas.missing(exposed.client(), exposed.schemas)
        kept = [s for s in exposed.schemas if s not in gone]
        return ReadResult(id_, props if not gone else {**props, "schemas": kept})


class ExposedSchemas(Resource, module="database", name="ExposedSchemas"):
    """The stack's exposed schemas, merged into the project's Data API config."""

    db_schema: pulumi.Output[str]

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            ExposedSchemasProvider(),
            name,
            {**props, "db_schema": None, "added": None},
            with_secret_outputs(opts, ExposedSchemasProvider.props_type),
        )
