"""The Migrations component alone: one resource per file, chained in version order."""

from __future__ import annotations

from pathlib import Path

from components.migrations import Migrations
from supastack.config.settings import MigrationSettings
from supastack.migrations.files import discover_app
from tests.conftest import write_migrations
from tests.unit.components.conftest import build, secret
from tests.unit.conftest import RecordingMocks

FILES = {
    "1_items.sql": "create table shop.items (id bigint primary key);\n",
    "2_price.sql": "alter table shop.items add column price numeric;\n",
    "3_drop.sql": "alter table shop.items drop column price;\n",
}


def test_one_resource_per_file_each_after_the_one_before(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    files = discover_app(write_migrations(tmp_path, "shop", FILES), "shop")
    build(lambda: Migrations("shop-migrations", {
        "app": "shop", "schema": "shop", "files": files, "conninfo": secret(),
        "settings": MigrationSettings(retain_on_delete=True), "backups": None, "protect": True,
    }))  # fmt: skip
    migrations = [r for r in pulumi_mocks.resources if r.typ.endswith("migrations:Migration")]
    assert [m.inputs["version"] for m in migrations] == ["1", "2", "3"]
    assert migrations[0].dependencies == []
    assert [m.dependencies for m in migrations[1:]] == [[migrations[0].urn], [migrations[1].urn]]
    assert all(
        m.protect and m.retain_on_delete and "conninfo" in m.secret_inputs for m in migrations
    )
    assert [m.inputs["destructive"] for m in migrations] == [False, False, True]
