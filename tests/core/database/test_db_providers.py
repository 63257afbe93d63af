"""Every database dynamic provider's create/diff/update/delete/read, called directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from components.providers.database.publication import PublicationTablesProvider
from components.providers.database.rls import RlsPolicyProvider, RowLevelSecurityProvider
from components.providers.database.settings import PostgresSettingsProvider
from components.providers.migrations.migration import MigrationProvider
from supastack.database.pg_settings import ManagementApiSettings
from supastack.errors import SupastackError
from supastack.migrations.files import checksum
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, outs, wait_until
from tests.core.conftest import Database

SCHEMA = "shop"
ITEMS = (
    "create schema shop;\ncreate table shop.items (id bigint primary key, owner uuid, name text);\n"
)


def _migration(
    database: Database, version: str, sql: str, down: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "conninfo": database.conninfo,
        "app": SCHEMA,
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
    props = _migration(database, "1", ITEMS, "drop schema shop cascade;\n")

    created = provider.create(props)
    assert created.id == "shop:1" and _applied(database) == ["1"]
    assert provider.read(created.id, outs(created)).id == "shop:1"

    provider.delete(created.id, outs(created))
    assert _applied(database) == [] and database.scalar("select to_regnamespace('shop')") is None
    assert provider.read(created.id, outs(created)).id == ""  # reverted: refresh drops it


def test_migration_check_refuses_an_edited_file_with_what_to_do(database: Database) -> None:
    olds = _migration(database, "1", ITEMS, None)
    news = _migration(database, "1", ITEMS + "create index on shop.items (name);\n", None)
    failures = MigrationProvider().check(olds, news).failures
    assert [f.property for f in failures] == ["checksum"]
    assert "migrations/shop/1_m1.sql was edited after it was applied" in failures[0].reason
    assert "new migration file" in failures[0].reason
    assert MigrationProvider().check({}, news).failures == []


def test_migration_diff_and_update_touch_no_sql(database: Database) -> None:
    provider = MigrationProvider()
    olds = {**_migration(database, "1", ITEMS, None), "backup_key": "k"}
    news = _migration(database, "1", ITEMS, "drop schema shop cascade;\n")
    diff = provider.diff("shop:1", olds, news)
    assert diff.changes and diff.replaces == []
    assert provider.diff("shop:1", olds, _migration(database, "1", ITEMS, None)).changes is False
    assert outs(provider.update("shop:1", olds, news))["backup_key"] == "k"
    assert _applied(database) == []


def test_migration_without_down_file_refuses_delete(database: Database) -> None:
    provider = MigrationProvider()
    created = provider.create(_migration(database, "1", ITEMS, None))
    with pytest.raises(SupastackError, match=r"cannot be reverted, it has no down file"):
        provider.delete(created.id, outs(created))
    assert _applied(database) == ["1"]


def test_destructive_migrations_are_backed_up_first(database: Database, tmp_path: Path) -> None:
    provider = MigrationProvider()
    backups = {"enabled": True, "prefix": "local/", "directory": str(tmp_path)}
    provider.create(_migration(database, "1", ITEMS, None))
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


# -- RLS -----------------------------------------------------------------------------------


HOSTILE_TABLE = 'it"ems; drop table x; --'
HOSTILE_POLICY = 'owner\'s "rows"; --'


def _policy(database: Database, **extra: Any) -> dict[str, Any]:
    return {
        "conninfo": database.conninfo,
        "schema": SCHEMA,
        "table": HOSTILE_TABLE,
        "name": HOSTILE_POLICY,
        "command": "select",
        "roles": ["authenticated"],
        "mode": "permissive",
        "using": "owner = (select auth.uid())",
        "with_check": None,
        **extra,
    }


@pytest.fixture
def hostile_table(services: Services, database: Database) -> Database:
    with database.connect() as conn:
        conn.execute(ITEMS.encode())
        conn.execute(
            psycopg.sql.SQL("create table shop.{} (owner uuid)").format(
                psycopg.sql.Identifier(HOSTILE_TABLE)
            )
        )
        # auth.uid() lives in the cluster's `postgres` database; a stand-in for this one:
        conn.execute(
            "create schema auth; create function auth.uid() returns uuid language sql stable "
            "as $$ select null::uuid $$"
        )
    return database


def _pg_policy(database: Database) -> tuple[Any, ...] | None:
    with database.connect() as conn:
        return conn.execute(
            "select cmd, roles::text[], qual from pg_policies "
            "where tablename = %s and policyname = %s",
            [HOSTILE_TABLE, HOSTILE_POLICY],
        ).fetchone()


def test_policy_lifecycle_with_hostile_identifiers(hostile_table: Database) -> None:
    database = hostile_table
    provider = RlsPolicyProvider()

    created = provider.create(_policy(database))
    assert _pg_policy(database) == (
        "SELECT",
        ["authenticated"],
        "(owner = ( SELECT auth.uid() AS uid))",
    )
    assert database.scalar("select to_regclass('x')") is None

    news = _policy(
        database,
        command="all",
        roles=["authenticated", "service_role"],
        with_check="owner is not null",
    )
    assert provider.diff(created.id, outs(created), news).changes
    updated = provider.update(created.id, outs(created), news)
    assert _pg_policy(database)[:2] == ("ALL", ["authenticated", "service_role"])  # type: ignore[index]

    provider.delete(created.id, outs(updated))
    assert _pg_policy(database) is None


def test_policy_drift_after_a_manual_alter_policy_is_read_and_repaired(
    hostile_table: Database,
) -> None:
    database = hostile_table
    provider = RlsPolicyProvider()
    props = _policy(database)
    created = provider.create(props)
    assert outs(provider.read(created.id, outs(created))) == outs(created)  # no drift

    with database.connect() as conn:
        conn.execute(
            psycopg.sql.SQL("alter policy {} on shop.{} using (true)").format(
                psycopg.sql.Identifier(HOSTILE_POLICY), psycopg.sql.Identifier(HOSTILE_TABLE)
            )
        )
    read = provider.read(created.id, outs(created))
    assert outs(read)["drift"] == [
        f"policy {HOSTILE_POLICY!r} on shop.{HOSTILE_TABLE}: using is 'true', "
        "deployed '(owner = ( SELECT auth.uid() AS uid))'"
    ]
    assert provider.diff(created.id, outs(read), props).changes  # the next deploy puts it back

    provider.update(created.id, outs(read), props)
    assert _pg_policy(database)[2] == "(owner = ( SELECT auth.uid() AS uid))"  # type: ignore[index]


def test_adopt_takes_over_a_hand_made_policy_that_is_the_declared_one_only(
    hostile_table: Database,
) -> None:
    """A guide's policy made by hand under the declared name: without adopt the create fails
    (it exists); with adopt the same policy, written differently (Postgres shows both alike),
    is taken over unchanged; a different one is refused naming what differs, nothing changed."""
    database = hostile_table
    policy = psycopg.sql.SQL(
        "create policy {} on shop.{} for select to authenticated using ({})"
    )  # fmt: skip

    def made_by_hand(using: str) -> None:
        with database.connect() as conn:
            conn.execute(policy.format(psycopg.sql.Identifier(HOSTILE_POLICY),
                                       psycopg.sql.Identifier(HOSTILE_TABLE),
                                       psycopg.sql.SQL(using)))  # fmt: skip

    made_by_hand("auth.uid() = owner")  # not the declared expression
    provider = RlsPolicyProvider()
    with pytest.raises(SupastackError, match="already exists"):
        provider.create(_policy(database))
    with pytest.raises(SupastackError, match=r"cannot adopt policy .*: it exists and differs "
                       r"from the program \(using is '\(auth.uid\(\) = owner\)', declared "
                       r"'\(owner = \( SELECT auth.uid\(\) AS uid\)\)'\)"):  # fmt: skip
        provider.create(_policy(database, adopt=True))
    assert _pg_policy(database)[2] == "(auth.uid() = owner)"  # type: ignore[index]

    drop = psycopg.sql.SQL("drop policy {} on shop.{}").format(
        psycopg.sql.Identifier(HOSTILE_POLICY), psycopg.sql.Identifier(HOSTILE_TABLE)
    )
    with database.connect() as conn:
        conn.execute(drop)
    made_by_hand("OWNER = (SELECT auth.uid())")  # the declared one, spelt otherwise
    oid = database.scalar("select oid from pg_policy where polname = %s", HOSTILE_POLICY)
    adopted = provider.create(_policy(database, adopt=True))
    assert database.scalar("select oid from pg_policy where polname = %s", HOSTILE_POLICY) == oid
    assert outs(provider.read(adopted.id, outs(adopted))) == outs(adopted)  # no drift after


def test_a_policy_expression_cannot_smuggle_a_statement(hostile_table: Database) -> None:
    with pytest.raises(ValueError, match=r"one SQL expression"):
        RlsPolicyProvider().create(
            _policy(hostile_table, using="true) ; drop table shop.items; select (1")
        )
    assert hostile_table.scalar("select to_regclass('shop.items')") is not None


def test_rls_is_enabled_repaired_on_drift_and_never_disabled_by_delete(
    hostile_table: Database,
) -> None:
    database = hostile_table
    provider = RowLevelSecurityProvider()
    props = {
        "conninfo": database.conninfo,
        "schema": SCHEMA,
        "table": HOSTILE_TABLE,
        "enabled": True,
    }
    created = provider.create(props)
    relrowsecurity = "select relrowsecurity from pg_class where relname = %s"
    assert database.scalar(relrowsecurity, HOSTILE_TABLE) is True

    with database.connect() as conn:
        conn.execute(
            psycopg.sql.SQL("alter table shop.{} disable row level security").format(
                psycopg.sql.Identifier(HOSTILE_TABLE)
            )
        )
    read = provider.read(created.id, outs(created))
    assert outs(read)["enabled"] is False and provider.diff(created.id, outs(read), props).changes
    provider.update(created.id, outs(read), props)
    assert database.scalar(relrowsecurity, HOSTILE_TABLE) is True

    provider.delete(created.id, props)
    assert database.scalar(relrowsecurity, HOSTILE_TABLE) is True


def test_rls_on_a_missing_table_names_it(database: Database) -> None:
    props = {"conninfo": database.conninfo, "schema": SCHEMA, "table": "nope", "enabled": True}
    with pytest.raises(SupastackError, match=r"row level security on shop.nope: .*does not exist"):
        RowLevelSecurityProvider().create(props)


# -- Publication ---------------------------------------------------------------------------


def test_publication_membership_leaves_other_tables_alone(database: Database) -> None:
    with database.connect() as conn:
        conn.execute(ITEMS.encode())
        conn.execute(
            "create table shop.bids (id bigint primary key); "
            "create table public.other (id bigint primary key)"
        )
        conn.execute("create publication supabase_realtime for table public.other")
    provider = PublicationTablesProvider()
    props = {
        "conninfo": database.conninfo,
        "publication": "supabase_realtime",
        "tables": [["shop", "items"], ["shop", "bids"]],
    }
    members = "select array_agg(tablename::text order by tablename) from pg_publication_tables"

    created = provider.create(props)
    assert database.scalar(members) == ["bids", "items", "other"]
    # declared unsorted and unchanged: a refresh finds nothing to do
    assert not provider.diff(
        created.id, outs(provider.read(created.id, outs(created))), props
    ).changes

    database.execute("alter publication supabase_realtime drop table shop.bids")
    read = provider.read(created.id, outs(created))
    assert (
        outs(read)["tables"] == [["shop", "items"]]
        and provider.diff(created.id, outs(read), props).changes
    )
    provider.update(created.id, outs(read), props)
    assert database.scalar(members) == ["bids", "items", "other"]

    provider.delete(created.id, props)
    assert database.scalar(members) == ["other"]


# -- Postgres settings ---------------------------------------------------------------------


def _settings_props(services: Services, values: dict[str, str]) -> dict[str, Any]:
    return {
        "conninfo": services.dsn(),
        "token": None,
        "target": "local",
        "local": {"state_dir": str(services.env.state_dir), "port": services.env.db_port},
        "api": None,
        "values": values,
    }


def _live(services: Services, name: str) -> str:
    with services.connect() as conn:
        return str(conn.execute("select current_setting(%s)", [name]).fetchone()[0])  # type: ignore[index]


def test_local_settings_reload_restart_drift_and_reset(services: Services) -> None:
    provider = PostgresSettingsProvider()
    props = _settings_props(services, {"work_mem": "8MB", "max_locks_per_transaction": "128"})
    created = provider.create(props)
    assert outs(created)["recorded"] == {"work_mem": "8MB", "max_locks_per_transaction": "128"}
    assert wait_until(lambda: _live(services, "work_mem") == "8MB")
    assert _live(services, "max_locks_per_transaction") == "128"  # needed the restart

    with services.connect() as conn:
        conn.execute("alter system set work_mem = '1MB'")
    read = provider.read(created.id, outs(created))
    assert (
        outs(read)["values"]["work_mem"] == "1MB"
        and provider.diff(created.id, outs(read), props).changes
    )

    smaller = _settings_props(services, {"work_mem": "8MB"})
    provider.update(created.id, outs(read), smaller)
    assert _live(services, "max_locks_per_transaction") == "64"  # removed: reset, restarted
    provider.delete(created.id, smaller)
    assert wait_until(lambda: _live(services, "work_mem") == "4MB")


def test_a_bad_setting_names_itself_and_leaves_the_old_values(services: Services) -> None:
    provider = PostgresSettingsProvider()
    created = provider.create(_settings_props(services, {"work_mem": "8MB"}))
    with pytest.raises(
        SupastackError, match=r"postgresSettings.statement_timeout: .*invalid value"
    ):
        provider.update(
            created.id,
            outs(created),
            _settings_props(services, {"work_mem": "16MB", "statement_timeout": "soon"}),
        )
    assert outs(provider.read(created.id, outs(created)))["recorded"] == {"work_mem": "8MB"}
    for values, message in [
        ({"no_such_thing": "1"}, "Postgres has no such setting"),
        ({"port": "1"}, "is managed by the local target"),
    ]:
        with pytest.raises(
            SupastackError, match=rf"postgresSettings.{next(iter(values))}: {message}"
        ):
            provider.create(_settings_props(services, values))
    provider.delete(created.id, outs(created))


def test_supabase_settings_go_through_the_management_api() -> None:
    sent: list[tuple[str, str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path, json.loads(request.content or b"null")))
        if request.headers["authorization"] != "Bearer sbp_test":
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(200, json={"max_connections": 200, "statement_timeout": "30s"})

    target = ManagementApiSettings(
        ManagementApi(
            "https://api.example", "sbp_test", "abcdefghijklmnopqrst", httpx.MockTransport(api)
        )
    )
    target.apply({"max_connections": "200", "statement_timeout": "30s"})
    assert sent[-1] == (
        "PUT",
        "/v1/projects/abcdefghijklmnopqrst/config/database/postgres",
        {"max_connections": "200", "statement_timeout": "30s", "restart_database": True},
    )
    assert target.recorded(["max_connections"]) == {"max_connections": "200"}
    with pytest.raises(
        SupastackError, match=r"postgresSettings.wal_level: Supabase does not accept"
    ):
        target.apply({"wal_level": "minimal"})


def test_a_failed_policy_update_keeps_the_old_policy(hostile_table: Database) -> None:
    database = hostile_table
    provider = RlsPolicyProvider()
    created = provider.create(_policy(database))
    with pytest.raises(SupastackError, match=r'role "no_such_role" does not exist'):
        provider.update(created.id, outs(created), _policy(database, roles=["no_such_role"]))
    assert _pg_policy(database) == (
        "SELECT",
        ["authenticated"],
        "(owner = ( SELECT auth.uid() AS uid))",
    )


def test_a_setting_postgres_cannot_start_with_is_rolled_back_and_the_cluster_kept_up(
    services: Services,
) -> None:
    """shared_buffers = 512GB passes ALTER SYSTEM but the server cannot start with it: the
    previous values come back, the cluster runs, and the error names the setting and what
    Postgres said (before, the cluster stayed down and every `local up` failed the same way)."""
    provider = PostgresSettingsProvider()
    created = provider.create(_settings_props(services, {"work_mem": "8MB"}))
    with pytest.raises(SupastackError) as failed:
        provider.update(
            created.id,
            outs(created),
            _settings_props(services, {"work_mem": "16MB", "shared_buffers": "512GB"}),
        )
    assert str(failed.value).startswith(
        "postgresSettings.shared_buffers = '512GB': Postgres did not start with it (could not "
    )
    assert "the previous settings were put back" in str(failed.value)
    assert _live(services, "shared_buffers") == "128MB"  # it answers, with the old value
    assert outs(provider.read(created.id, outs(created)))["recorded"] == {"work_mem": "8MB"}
    assert "512GB" not in services.env.cluster(services.credentials).system_settings()
    provider.delete(created.id, outs(created))
