"""The RLS providers (components/providers/database/rls.py), called directly: a policy's
lifecycle with hostile identifiers, drift read and repaired, adopt, smuggled statements, RLS
enabled and never disabled by delete, a failed update."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from components.providers.database.rls import RlsPolicyProvider, RowLevelSecurityProvider
from supastack.errors import SupastackError
from tests.conftest import Services, outs
from tests.core.conftest import SHOP_ITEMS, SHOP_SCHEMA, Database

HOSTILE_TABLE = 'it"ems; drop table x; --'
HOSTILE_POLICY = 'owner\'s "rows"; --'


def _policy(database: Database, **extra: Any) -> dict[str, Any]:
    return {
        "conninfo": database.conninfo,
        "schema": SHOP_SCHEMA,
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
        conn.execute(SHOP_ITEMS.encode())
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
        "schema": SHOP_SCHEMA,
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
    props = {"conninfo": database.conninfo, "schema": SHOP_SCHEMA, "table": "nope", "enabled": True}
    with pytest.raises(SupastackError, match=r"row level security on shop.nope: .*does not exist"):
        RowLevelSecurityProvider().create(props)


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
