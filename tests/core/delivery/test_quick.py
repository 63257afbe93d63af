"""The edit loop's quick path (``supastack local deploy --watch``): what goes ahead of the
update, against a real database; what waits for it (a migration that can destroy data, anything
when the project does not plan)."""

from __future__ import annotations

from pathlib import Path

from supastack.delivery import quick
from tests.conftest import Services, write_migrations
from tests.core.conftest import Database, write_project

ITEMS = "20260101000000_items.sql"
DROP = "20260102000000_drop_items.sql"


def test_a_new_migration_goes_ahead_and_one_that_destroys_data_waits_for_the_update(
    tmp_path: Path, services: Services, database: Database
) -> None:
    project = write_project(tmp_path, services, database, {"shop": "schema: shop\n"})
    database.execute("create schema shop")  # made by the first deploy
    write_migrations(project, "shop", {ITEMS: "create table shop.items (id int primary key);"})

    done = quick.ahead(project, "test", [f"migrations/shop/{ITEMS}"])
    assert done == [f"migrations shop: migrations/shop/{ITEMS} applied"]
    assert database.scalar("select count(*) from shop.items") == 0  # the table is there
    assert quick.ahead(project, "test", [f"migrations/shop/{ITEMS}"]) == [
        "migrations shop: nothing new"
    ]

    write_migrations(project, "shop", {DROP: "drop table shop.items;"})
    done = quick.ahead(project, "test", [f"migrations/shop/{DROP}"])
    assert done == ["migrations shop: one can destroy data, left to the update (it backs up)"]
    assert database.scalar("select to_regclass('shop.items') is not null") is True

    (project / "apps" / "shop.yaml").write_text("schema: [not, a, schema]\n")
    assert quick.ahead(project, "test", [f"migrations/shop/{DROP}"]) == []  # the update says
    assert quick.ahead(project, "test", ["seeds/shop/rows.sql", "apps/shop.yaml"]) == []
