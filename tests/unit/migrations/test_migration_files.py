"""Discovery of migration files: naming rules, down files, duplicate versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from supastack.errors import SupastackError
from supastack.migrations.files import discover, discover_app
from tests.conftest import write_migrations


def test_discovers_files_in_version_order_with_their_down_files(tmp_path: Path) -> None:
    root = write_migrations(
        tmp_path,
        "shop",
        {
            "20240102000000_add_price.sql": "select 2;",
            "20240102000000_add_price.down.sql": "select -2;",
            "20240101000000_items.sql": "select 1;",
            "README.md": "notes are not migrations",
        },
    )
    files = discover_app(root, "shop")
    assert [(f.version, f.name, f.down_sql) for f in files] == [
        ("20240101000000", "items", None),
        ("20240102000000", "add_price", "select -2;"),
    ]
    assert files[1].source == "migrations/shop/20240102000000_add_price.sql"
    assert files[1].down_source == "migrations/shop/20240102000000_add_price.down.sql"


def test_an_app_without_a_directory_has_no_migrations(tmp_path: Path) -> None:
    assert discover_app(tmp_path / "migrations", "shop") == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"v1_items.sql": ""}, r"migrations/shop/v1_items.sql: not a migration file name"),
        ({"1-items.sql": ""}, r"migrations/shop/1-items.sql: not a migration file name"),
        ({"1_Items.sql": ""}, r"migrations/shop/1_Items.sql: not a migration file name"),
        (
            {"1_items.sql": "", "1_other.sql": ""},
            r"migrations/shop/1_other.sql: version 1 is also used by migrations/shop/1_items.sql",
        ),
        (
            {"1_items.sql": "", "2_gone.down.sql": ""},
            r"migrations/shop/2_gone.down.sql: down file without its up file 2_gone.sql",
        ),
    ],
)
def test_malformed_layouts_are_refused_naming_the_file(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(SupastackError, match=message):
        discover_app(write_migrations(tmp_path, "shop", files), "shop")


def test_a_non_utf8_file_is_named(tmp_path: Path) -> None:
    root = write_migrations(tmp_path, "shop", {})
    (root / "shop" / "1_items.sql").write_bytes(b"select '\xff';")
    with pytest.raises(SupastackError, match=r"migrations/shop/1_items.sql: not UTF-8 text"):
        discover_app(root, "shop")


def test_two_apps_cannot_share_a_version(tmp_path: Path) -> None:
    write_migrations(tmp_path, "shop", {"1_items.sql": "select 1;"})
    root = write_migrations(tmp_path, "blog", {"1_posts.sql": "select 1;"})
    with pytest.raises(SupastackError, match=r"version 1 is also used by migrations/"):
        discover(root, ["shop", "blog"])


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_items.sql": "begin;\ncreate table a ();\ncommit;\n"},
         r"migrations/shop/1_items.sql:1: begin: transaction control is not allowed"),
        ({"1_items.sql": "create table a ();\n\nCOMMIT;\nselect 1/0;\n"},
         r"migrations/shop/1_items.sql:3: COMMIT: transaction control"),
        ({"1_items.sql": "create table a ();\nsavepoint s;\nrollback to savepoint s;\n"},
         r"1_items.sql:2: savepoint s: transaction.*\n.*1_items.sql:3: rollback to savepoint s"),
        ({"1_items.sql": "select 1;\nend;\n"}, r"migrations/shop/1_items.sql:2: end: "),
        ({"1_items.sql": "select 1;\nprepare transaction 'x';\n"}, r"1_items.sql:2: prepare "),
        ({"1_items.sql": "select 1;", "1_items.down.sql": "drop table a;\nrollback;\n"},
         r"migrations/shop/1_items.down.sql:2: rollback: transaction control"),
        ({"1_items.sql": ""}, r"migrations/shop/1_items.sql: has no SQL statement"),
        ({"1_items.sql": "-- to do\n/* later */\n  \n"}, r"1_items.sql: has no SQL statement"),
        ({"1_items.sql": "create tabel a ();"}, r"migrations/shop/1_items.sql:1: syntax error"),
        ({"1_items.sql": "select 1;\ncreate index concurrently i on a (x);\n"},
         r"1_items.sql:2: create index concurrently i on a \(x\): CONCURRENTLY cannot run inside "
         r"a transaction.*first line is -- supastack:no-transaction"),
        ({"1_items.sql": "select 1;", "1_items.down.sql": "drop index concurrently i;\n"},
         r"1_items.down.sql:1: drop index concurrently i: CONCURRENTLY cannot run inside"),
        ({"1_items.sql": "reindex index concurrently i;"}, r"REINDEX ... CONCURRENTLY cannot"),
        ({"1_items.sql": "alter table a detach partition b concurrently;"}, r"DETACH PARTITION"),
        ({"1_items.sql": "vacuum a;"}, r"1_items.sql:1: vacuum a: VACUUM cannot run inside"),
        ({"1_items.sql": "-- supastack:no-transaction\ncreate index concurrently i on a (x);\n"
                         "create index concurrently j on a (y);\n"},
         r"1_items.sql:3: a -- supastack:no-transaction file holds exactly one statement \(it "
         r"has 2\)"),
        ({"1_items.sql": "-- supastack:no-transaction\ncreate index concurrently on a (x);\n"},
         r"1_items.sql:2: create index concurrently on a \(x\): name the index"),
    ],
)  # fmt: skip
def test_files_the_engine_cannot_run_atomically_are_refused_at_discovery(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    """Before any SQL runs, naming the file and line: a COMMIT inside a file would make part
    of it permanent without its history row; an empty file would be recorded as applied."""
    with pytest.raises(SupastackError, match=message):
        discover_app(write_migrations(tmp_path, "shop", files), "shop")


def test_a_down_file_may_be_empty_when_there_is_nothing_to_undo(tmp_path: Path) -> None:
    root = write_migrations(
        tmp_path, "shop", {"1_seed.sql": "select 1;", "1_seed.down.sql": "-- nothing to undo\n"}
    )
    assert discover_app(root, "shop")[0].down_sql == "-- nothing to undo\n"


def test_a_no_transaction_header_makes_a_one_statement_file_run_outside_a_transaction(
    tmp_path: Path,
) -> None:
    root = write_migrations(
        tmp_path,
        "shop",
        {
            "1_items.sql": "create table a (x int);\n",
            "2_by_x.sql": "-- supastack:no-transaction\r\ncreate index concurrently i on a (x);",
            "3_later.sql": "select 1;\n-- supastack:no-transaction\n",
        },
    )
    assert [f.transactional for f in discover_app(root, "shop")] == [True, False, True]
