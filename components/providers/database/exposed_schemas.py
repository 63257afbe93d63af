"""The ExposedSchemas dynamic resource: the stack's schemas in the Data API's ``db_schema``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pulumi

from components.providers.base import TypedProvider, TypedResource
from supastack.database import exposed_schemas
from supastack.resource_props import Deferred, OnManagementApi


class ExposedSchemasProps(OnManagementApi):
    schemas: list[str]
    added: list[str] | None = None
    """Output: the schemas this resource added to ``db_schema`` (what deleting it takes out)."""

    not_diffed: ClassVar[frozenset[str]] = frozenset({"added"})

    @classmethod
    def for_schemas(cls, api: Mapping[str, Any], token: Deferred[str], schemas: list[str]) -> Self:
        return cls.declared(api=api, token=token, schemas=schemas)


class ExposedSchemasProvider(TypedProvider[ExposedSchemasProps]):
    """Merge the stack's schemas into ``db_schema``; ``read`` reports one taken out by hand."""

    props_type = ExposedSchemasProps

    def identify(self, props: ExposedSchemasProps) -> str:
        return "postgrest-db-schema"

    def put(self, props: ExposedSchemasProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        added_before = () if before is None else self.typed(before).added or ()
        live, added = exposed_schemas.apply(props.client(), props.schemas, added_before)
        return {"db_schema": live, "added": added}

    def remove(self, props: ExposedSchemasProps) -> None:
        exposed_schemas.apply(props.client(), [], props.added or ())

    def observe(
        self, props: ExposedSchemasProps, recorded: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        gone = exposed_schemas.missing(props.client(), props.schemas)
        return {"schemas": [s for s in props.schemas if s not in gone]} if gone else {}


class ExposedSchemas(TypedResource[ExposedSchemasProps], module="database", name="ExposedSchemas"):
    """The stack's exposed schemas, merged into the project's Data API config."""

    provider_type = ExposedSchemasProvider
    outputs = ("db_schema", "added")

    db_schema: pulumi.Output[str]
