"""The migration provider (components/providers/migrations/migration.py), called directly:
create applies, delete reverts, read sees manual reverts, edited files, no-SQL diffs and
updates, a missing down file, and backups before destructive migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.providers.migrations.migration import MigrationProvider
from supastack.errors import SupastackError
from supastack.migrations.files import checksum
from tests.conftest import outs
from tests.core.conftest import SHOP_ITEMS, SHOP_SCHEMA, Database


def _migration(
    database: Database, version: str, sql: str, down: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "conninfo": database.conninfo,
        "app": SHOP_SCHEMA,
        "version": version,
        "name": f"m{version}",
        "source": f"migrations/shop/{version}_m{version}.sql",
        "checksum": checksum(sql),
        "sql": sql,
        "down_sql": down,
        "destructive": False,
        "down_destructive": False,
        "options": {"lockTimeout": "5s", "statementTimeout": "1min", "allowOutOfOrder": False},
        "backups": None,
        **extra,
    }


def _applied(database: Database) -> list[str]:
    with database.connect() as conn:
        if conn.execute(
            "select to_regclass('supabase_migrations.schema_migrations')"
        ).fetchone() == (None,):
            return []
        return [
            str(r[0])
            for r in conn.execute(
                "select version from supabase_migrations.schema_migrations order by 1"
            )
        ]


# -- Migration -----------------------------------------------------------------------------


def test_migration_create_applies_delete_reverts_and_read_sees_manual_reverts(
    database: Database,
) -> None:
    provider = MigrationProvider()
    props = _migration(database, "1", SHOP_ITEMS, "drop schema shop cascade;\n")

    created = provider.create(props)
    assert created.id == "shop:1" and _applied(database) == ["1"]
    assert provider.read(created.id, outs(created)).id == "shop:1"

    provider.delete(created.id, outs(created))
    assert _applied(database) == [] and database.scalar("select to_regnamespace('shop')") is None
    assert provider.read(created.id, outs(created)).id == ""  # reverted: refresh drops it


def test_migration_check_refuses_an_edited_file_with_what_to_do(database: Database) -> None:
    olds = _migration(database, "1", SHOP_ITEMS, None)
    news = _migration(database, "1", SHOP_ITEMS + "create index on shop.items (name);\n", None)
    failures = MigrationProvider().check(olds, news).failures
    assert [f.property for f in failures] == ["checksum"]
    assert "migrations/shop/1_m1.sql was edited after it was applied" in failures[0].reason
    assert "new migration file" in failures[0].reason
    assert MigrationProvider().check({}, news).failures == []


def test_migration_diff_and_update_touch_no_sql(database: Database) -> None:
    provider = MigrationProvider()
    olds = {**_migration(database, "1", SHOP_ITEMS, None), "backup_key": "k"}
    news = _migration(database, "1", SHOP_ITEMS, "drop schema shop cascade;\n")
    diff = provider.diff("shop:1", olds, news)
    assert diff.changes and diff.replaces == []
    assert (
        provider.diff("shop:1", olds, _migration(database, "1", SHOP_ITEMS, None)).changes is False
    )
    assert outs(provider.update("shop:1", olds, news))["backup_key"] == "k"
    assert _applied(database) == []


def test_migration_without_down_file_refuses_delete(database: Database) -> None:
    provider = MigrationProvider()
    created = provider.create(_migration(database, "1", SHOP_ITEMS, None))
    with pytest.raises(SupastackError, match=r"cannot be reverted, it has no down file"):
        provider.delete(created.id, outs(created))
    assert _applied(database) == ["1"]


def test_destructive_migrations_are_backed_up_first(database: Database, tmp_path: Path) -> None:
    provider = MigrationProvider()
    backups = {"enabled": True, "prefix": "local/", "directory": str(tmp_path)}
    provider.create(_migration(database, "1", SHOP_ITEMS, None))
    drop = "alter table shop.items drop column name;\n"
    created = provider.create(
        _migration(
            database,
            "2",
            drop,
            "alter table shop.items add column name text;\n",
            destructive=True,
            backups=backups,
        )
    )
    key = outs(created)["backup_key"]
    assert key.startswith("local/shop/2_m2.up.") and (tmp_path / key).is_file()
    provider.delete(created.id, outs(created))  # the down file is not destructive: no backup
    orders = "create table shop.orders (id bigint);\n"
    added = provider.create(
        _migration(
            database,
            "3",
            orders,
            "drop table shop.orders;\n",
            down_destructive=True,
            backups=backups,
        )
    )
    assert outs(added)["backup_key"] is None  # creating a table destroys nothing
    provider.delete(added.id, outs(added))  # its down file drops the table: backed up first
    with database.connect() as conn:
        taken = conn.execute(
            "select version, direction, key from supabase_migrations.supastack_backups "
            "order by taken_at"
        ).fetchall()
    assert [(v, d) for v, d, _ in taken] == [("2", "up"), ("3", "down")]
    assert taken[0][2] == key and (tmp_path / str(taken[1][2])).is_file()
