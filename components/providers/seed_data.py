"""The SeedData dynamic resource: one seed file of an app, on stacks that seed."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, Resource, UpdateResult

from components.providers.base import DeclarativeProvider, with_secret_outputs
from supastack import seeds


def _seed(props: dict[str, Any]) -> seeds.SeedFile:
    return seeds.SeedFile(props["app"], props["name"], props["source"], props["sql"])


class SeedDataProvider(DeclarativeProvider):
    """create and update run the file unless its checksum is recorded; delete forgets it."""

    inputs: ClassVar[tuple[str, ...]] = ("conninfo", "app", "name", "source", "checksum", "sql")
    replace_on: ClassVar[tuple[str, ...]] = ("app", "name")

    def create(self, props: dict[str, Any]) -> CreateResult:
        seeds.apply(props["conninfo"], _seed(props))
        return CreateResult(f"{props['app']}/{props['name']}", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        seeds.apply(news["conninfo"], _seed(news))
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        seeds.forget(props["conninfo"], props["app"], props["name"])


class SeedData(Resource, module="seeds", name="SeedData"):
    """A seed file (``seeds/<app>/<name>.sql``), run after the app's migrations."""

    def __init__(
        self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SeedDataProvider(), name, props, with_secret_outputs(opts))
