"""The ExposedSchemas dynamic resource: the apps' ``api:`` schemas in the Data API's config."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, api_from, with_secret_outputs
from supastack import exposed_schemas


class ExposedSchemasProvider(DeclarativeProvider):
    """Merge the stack's schemas into ``db_schema``; ``read`` reports one taken out by hand."""

    inputs: ClassVar[tuple[str, ...]] = ("api", "token", "schemas")

    def create(self, props: dict[str, Any]) -> CreateResult:
        live, added = exposed_schemas.apply(api_from(props), props["schemas"])
        return CreateResult("postgrest-db-schema", {**props, "db_schema": live, "added": added})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        live, added = exposed_schemas.apply(api_from(news), news["schemas"], olds["added"])
        return UpdateResult({**news, "db_schema": live, "added": added})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        exposed_schemas.apply(api_from(props), [], props["added"])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        gone = exposed_schemas.missing(api_from(props), props["schemas"])
        kept = [s for s in props["schemas"] if s not in gone]
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
            with_secret_outputs(opts),
        )
