"""Migration lint: supastack's own checks and squawk's, on files (no database)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supastack.cli import app
from supastack.errors import SupastackError
from supastack.local.paths import PROJECT_DIR
from supastack.migrations.files import MigrationFile
from supastack.migrations.lint import destructive, lint


def _file(sql: str, version: str = "1", down: str | None = None) -> MigrationFile:
    return MigrationFile("shop", version, "m", f"migrations/shop/{version}_m.sql", sql, down)


def _rules(findings: object) -> list[tuple[str, int, str]]:
    return [(f.source, f.line, f.rule) for f in findings]  # type: ignore[attr-defined]


def test_a_table_without_rls_in_an_exposed_schema_is_flagged() -> None:
    sql = (
        "create table shop.items (id bigint primary key);\n\n"
        "create table public.open (id bigint primary key);\n"
        "create table private.x (id bigint primary key);\n"
    )
    assert _rules(lint([_file(sql)], "shop")) == [
        ("migrations/shop/1_m.sql", 1, "rls-not-enabled"),
        ("migrations/shop/1_m.sql", 3, "rls-not-enabled"),
    ]


def test_rls_enabled_in_a_later_migration_of_the_app_counts() -> None:
    create = _file("create table shop.items (id bigint primary key);\n")
    enable = _file("alter table shop.items enable row level security;\n", version="2")
    assert lint([create], "shop", context=[create, enable]) == []


def test_security_definer_needs_a_pinned_search_path() -> None:
    unpinned = (
        "create function shop.f() returns int language sql security definer as $$ select 1 $$;\n"
    )
    pinned = (
        "create function shop.g() returns int language sql security definer "
        "set search_path = '' as $$ select 1 $$;\n"
    )
    assert _rules(lint([_file(unpinned + pinned)], "shop")) == [
        ("migrations/shop/1_m.sql", 1, "security-definer-search-path")
    ]


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("drop table shop.items;", "drops table shop.items"),
        ("drop schema shop cascade;", "drops schema shop"),
        ("truncate shop.items;", "truncates shop.items"),
        ("alter table shop.items drop column name;", "drops column shop.items.name"),
        (
            "alter table shop.items alter column id type text;",
            "changes the type of column shop.items.id",
        ),
    ],
)
def test_destructive_statements_are_flagged_in_up_and_down_files(sql: str, what: str) -> None:
    findings = lint([_file("select 1;", down=sql)], "shop")
    assert [(f.source, f.rule) for f in findings] == [
        ("migrations/shop/1_m.down.sql", "destructive")
    ]
    assert what in findings[0].message
    assert destructive(sql, "x.sql") and not destructive("create table t (id bigint);", "x.sql")


def test_squawk_findings_are_located_in_the_migration_file() -> None:
    sql = (
        "alter table shop.items enable row level security;\n"
        "alter table shop.items add column n varchar(10);\n"
    )
    findings = lint([_file(sql, version="7")], "shop")
    assert ("migrations/shop/7_m.sql", 2, "prefer-text-field") in _rules(findings)
    assert not {"require-lock-timeout", "prefer-robust-stmts"} & {f.rule for f in findings}


def test_a_syntax_error_names_the_file_and_line() -> None:
    with pytest.raises(SupastackError, match=r"migrations/shop/1_m.sql:2: syntax error"):
        lint([_file("select 1;\ncreate tabel x ();\n")], "shop")


def test_a_down_file_dropping_what_its_up_file_created_is_info_and_anything_else_is_not() -> None:
    up = (
        "create table shop.items (id bigint primary key);\n"
        "alter table shop.orders add column note text;\n"
        "alter table shop.items enable row level security;\n"
    )
    down = (
        "alter table shop.orders drop column note;\n"
        "drop table shop.items;\n"
        "drop table shop.orders;\n"
    )
    found = {
        (f.line, f.info) for f in lint([_file(up, down=down)], "shop") if f.rule == "destructive"
    }
    assert found == {(1, True), (2, True), (3, False)}  # orders was not created by the up file


def test_db_lint_passes_on_the_repositorys_own_migrations() -> None:
    result = CliRunner().invoke(app, ["--cwd", str(PROJECT_DIR), "db", "lint"])
    assert result.exit_code == 0, result.output
    *lines, summary = result.output.strip().splitlines()
    assert summary == f"0 finding(s), {len(lines)} info"
    assert all(line.endswith("(created by its up file)") or "(acknowledged: " in line
               for line in lines), lines  # fmt: skip


def test_a_loss_of_data_that_is_meant_is_acknowledged_with_its_reason() -> None:
    """``-- supastack:destructive <why>`` on the comment lines just before the statement makes
    the finding info, with the reason; anything else between them does not."""
    sql = (
        "create table shop.t (id bigint primary key);\n"
        "alter table shop.t enable row level security;\n"
        "-- supastack:destructive counted ids leak the volume\n"
        "-- (a second comment line)\n"
        "alter table shop.t alter column id set data type uuid using gen_random_uuid();\n"
        "-- supastack:destructive not this one: a statement comes between\n"
        "select 1;\n"
        "alter table shop.t drop column id;\n"
    )
    found = [(f.line, f.info, f.message) for f in lint([_file(sql)], "shop")
             if f.rule == "destructive"]  # fmt: skip
    assert found == [
        (5, True, "changes the type of column shop.t.id (may lose data) (acknowledged: counted "
                  "ids leak the volume)"),
        (8, False, "drops column shop.t.id"),
    ]  # fmt: skip
