"""The SeedData dynamic resource: one seed file, run once per checksum."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import Field

from components.providers.base import TypedProvider, TypedResource
from supastack.migrations import seeds
from supastack.resource_props import Deferred, OnDatabase


class SeedDataProps(OnDatabase):
    app: str
    name: str
    source: str
    checksum: str
    sql: str = Field(repr=False)

    @classmethod
    def for_seed(cls, conninfo: Deferred[str], seed: seeds.SeedFile) -> Self:
        return cls.declared(
            conninfo=conninfo, app=seed.app, name=seed.name, source=seed.source,
            checksum=seed.checksum, sql=seed.sql,
        )  # fmt: skip

    def seed(self) -> seeds.SeedFile:
        return seeds.SeedFile(self.app, self.name, self.source, self.sql)


class SeedDataProvider(TypedProvider[SeedDataProps]):
    """create and update run the file unless its checksum is recorded; delete forgets it; a
    refresh changes nothing (what a seed wrote is the app's data from then on)."""

    props_type = SeedDataProps
    replace_on = ("app", "name")

    def identify(self, props: SeedDataProps) -> str:
        return f"{props.app}/{props.name}"

    def put(self, props: SeedDataProps, before: Mapping[str, Any] | None) -> dict[str, Any]:
        seeds.apply(props.conninfo, props.seed())
        return {}

    def remove(self, props: SeedDataProps) -> None:
        seeds.forget(props.conninfo, props.app, props.name)


class SeedData(TypedResource[SeedDataProps], module="seeds", name="SeedData"):
    """A seed file (``seeds/<app>/<name>.sql``), run after the app's migrations."""

    provider_type = SeedDataProvider
