"""The SeedData dynamic resource: one seed file of an app, on stacks that seed."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack.migrations import seeds
from supastack.resource_props import SeedDataProps


class SeedDataProvider(DeclarativeProvider[SeedDataProps]):
    """create and update run the file unless its checksum is recorded; delete forgets it."""

    props_type = SeedDataProps
    replace_on = ("app", "name")

    def create(self, props: dict[str, Any]) -> CreateResult:
        seed = self.typed(props)
        seeds.apply(seed.conninfo, seed.seed())
        return CreateResult(f"{seed.app}/{seed.name}", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        seed = self.typed(news)
        seeds.apply(seed.conninfo, seed.seed())
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        seed = self.typed(props)
        seeds.forget(seed.conninfo, seed.app, seed.name)


class SeedData(Resource, module="seeds", name="SeedData"):
    """A seed file (``seeds/<app>/<name>.sql``), run after the app's migrations."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            SeedDataProvider(), name, props, with_secret_outputs(opts, SeedDataProvider.props_type)
        )
