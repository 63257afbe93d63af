"""`supastack db status | lint | restore` on a small demo app, against the real cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from supastack.cli import app
from supastack.local.system import free_port
from supastack.migrations.backups import Backups, DirectoryStore
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import discover_app
from tests.conftest import Services, project_file, write_migrations
from tests.core.conftest import STATISTICS_PRIVATE, Database, write_project

runner = CliRunner()

ITEMS = (
    "create table demo.items (id bigint primary key, name text);\n"
    "alter table demo.items enable row level security;\n"
)
PRICE = "alter table demo.items add column price numeric;\n"
ORDERS = "create table demo.orders (id bigint primary key);\ndrop table demo.items;\n"


@pytest.fixture
def demo(tmp_path: Path, services: Services, database: Database) -> Path:
    """A project with the demo app; its stack points at this test's database."""
    write_project(
        tmp_path, services, database, {"demo": "rls: [items]\n"},
        "  supastack:backups:\n    enabled: true\n"
        f"    directory: {tmp_path / 'backups'}\n",
    )  # fmt: skip
    write_migrations(
        tmp_path, "demo", {"20240101000000_items.sql": ITEMS, "20240102000000_price.sql": PRICE}
    )
    database.execute("create schema demo")
    MigrationEngine(database.conninfo).migrate(
        "demo", discover_app(tmp_path / "migrations", "demo")
    )
    write_migrations(tmp_path, "demo", {"20240103000000_orders.sql": ORDERS})
    return tmp_path


def run(project: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--cwd", str(project), "db", *args])
    return result.exit_code, result.output


def test_status_shows_applied_pending_and_lint_of_pending(demo: Path) -> None:
    code, out = run(demo, "status", "--stack", "test")
    assert code == 0, out
    assert out.startswith("monitoring (schema monitoring, migrations/monitoring)\n  no migrations")
    lines = out.splitlines()[2:]
    assert lines[0] == "demo (schema demo, migrations/demo)"
    assert lines[1].split() == ["20240101000000", "items", "applied"]
    assert lines[2].split() == ["20240102000000", "price", "applied"]
    assert lines[3].split() == ["20240103000000", "orders", "pending"]
    assert (
        "lint migrations/demo/20240103000000_orders.sql:1: rls-not-enabled: table demo.orders"
        in out
    )
    assert (
        "lint migrations/demo/20240103000000_orders.sql:2: destructive: drops table demo.items"
        in out
    )
    assert "20240101000000_items.sql" not in out  # applied files are not linted again


def test_status_flags_edited_and_out_of_order_files_and_exits_1(demo: Path) -> None:
    (demo / "migrations" / "demo" / "20240102000000_price.sql").write_text(PRICE + "-- tweak\n")
    write_migrations(demo, "demo", {"20240101120000_late.sql": "select 1;\n"})
    code, out = run(demo, "status", "--stack", "test")
    assert code == 1
    assert "20240101120000   late" in out and "out-of-order" in out
    assert "20240102000000_price.sql: was edited after it was applied" in out


def test_status_without_the_database_password_says_where_to_put_it(tmp_path: Path) -> None:
    project_file(tmp_path)
    (tmp_path / "Pulumi.staging.yaml").write_text(
        "config:\n  supastack:target: supabase\n  supastack:projectRef: abcdefghijklmnopqrst\n"
        "  supastack:apps: [demo]\n"
    )
    result = runner.invoke(
        app, ["--cwd", str(tmp_path), "db", "status", "--stack", "staging"], env={"PGPASSWORD": ""}
    )
    assert result.exit_code == 1
    assert "Pulumi.staging.yaml: set PGPASSWORD to the stack's database password" in result.output


def test_lint_files_directories_and_the_whole_tree_without_a_database(demo: Path) -> None:
    code, out = run(demo, "lint", str(demo / "migrations" / "demo" / "20240103000000_orders.sql"))
    assert code == 1 and out.splitlines()[-1] == "2 finding(s), 0 info"
    code, out = run(demo, "lint")
    assert code == 1 and "20240101000000_items.sql" not in out  # RLS enabled there
    clean = demo / "clean" / "migrations" / "tidy"
    clean.mkdir(parents=True)
    (clean / "1_t.sql").write_text("select 1;\n")
    code, out = run(demo, "lint", str(clean))
    assert code == 0 and out.strip() == "0 finding(s), 0 info"
    code, out = run(demo, "lint", str(demo / "nope"))
    assert code == 1 and "nope: no such file or directory" in out


def test_restore_a_backup_into_a_new_database(
    demo: Path, services: Services, database: Database
) -> None:
    database.execute("insert into demo.items values (7, 'seven')")
    key = Backups(DirectoryStore(demo / "backups"), "").take(
        database.conninfo, "demo", "3_orders", "up"
    )
    into = f"{database.name}_restored"
    try:
        code, out = run(demo, "restore", key, "--into", into, "--stack", "test")
        assert code == 0, out
        restored = Database(into, make_conninfo(services.dsn(), dbname=into))
        assert restored.scalar("select name from demo.items where id = 7") == "seven"
        code, out = run(demo, "restore", key, "--into", into, "--stack", "test")
        assert code == 1 and f"database '{into}' exists" in out
    finally:
        with services.connect() as conn:
            conn.execute(f'drop database if exists "{into}" with (force)'.encode())


def test_db_advisors_lists_findings_and_fails_on_errors(demo: Path, database: Database) -> None:
    # what the monitoring app's migration does on every stack (else a WARN: statistics readable)
    database.execute(STATISTICS_PRIVATE.read_text())
    database.execute("create table public.exposed (id bigint primary key)")
    code, output = run(demo, "advisors", "--stack", "test")
    assert code == 1
    assert (
        "ERROR rls_disabled_in_public: public.exposed: table is exposed to the Data API" in output
    )
    assert output.strip().endswith("1 ERROR, 0 WARN, 1 INFO")  # demo.items: RLS, no policy
    database.execute("alter table public.exposed enable row level security")
    code, output = run(demo, "advisors", "--stack", "test", "--level", "WARN")
    assert (code, output.strip()) == (0, "0 ERROR, 0 WARN, 2 INFO")


def test_db_advisors_flag_a_policy_the_stack_does_not_declare(
    demo: Path, database: Database
) -> None:
    """A policy made by hand on an app's table (the demo app declares none) widens access: an
    ERROR naming it, with the SQL that removes it."""
    database.execute(STATISTICS_PRIVATE.read_text())
    database.execute("create policy everyone on demo.items for select using (true)")
    code, output = run(demo, "advisors", "--stack", "test", "--level", "ERROR")
    assert code == 1
    assert (
        "ERROR policy_not_as_declared: demo.items: everyone: not declared by the stack (SELECT "
        "to public; permissive: OR-ed with the stack's, it widens what they allow); resolve "
        'with: DROP POLICY "everyone" ON "demo"."items";' in output
    )
    database.execute('DROP POLICY "everyone" ON "demo"."items"')
    assert run(demo, "advisors", "--stack", "test", "--level", "ERROR")[0] == 0


def test_an_unknown_app_or_stack_is_said_as_such(demo: Path) -> None:
    code, out = run(demo, "status", "--stack", "test", "--app", "nope")
    assert (
        code == 1 and "--app nope: not an app of stack 'test' (it deploys: monitoring, demo)" in out
    )
    for command in (["smoke", "--stack", "nope"], ["rollback", "--stack", "nope", "--to", "1"]):
        result = runner.invoke(app, ["--cwd", str(demo), *command])
        assert result.exit_code == 1
        assert "no such stack 'nope': there is no Pulumi.nope.yaml in" in result.output


def test_a_database_that_does_not_answer_says_what_to_do(demo: Path) -> None:
    stack_file = demo / "Pulumi.test.yaml"
    down = stack_file.read_text().replace("dbPort: ", f"dbPort: {free_port()}  # was ")
    (demo / "Pulumi.down.yaml").write_text(down)
    code, out = run(demo, "status", "--stack", "down")
    assert code == 1
    assert "Pulumi.down.yaml: the database at 127.0.0.1:" in out
    assert "does not answer (connection failed: " in out
    assert out.rstrip().endswith("start the local environment with `supastack local up` "
                                 "(`supastack local status` shows what runs)")  # fmt: skip
