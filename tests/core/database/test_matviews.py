"""Scheduled refreshes of materialized views against a real database: the checks before the job
is created, the job's command, and what smoke reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.providers.database.matviews import MaterializedViewRefreshProvider
from supastack.database import matviews
from supastack.database.matviews import Refresh
from supastack.errors import SupastackError
from supastack.operations import cron
from tests.core.conftest import Database

VIEWS = (
    "create schema shop; create table shop.orders (id int primary key, customer int); "
    "insert into shop.orders values (1, 1), (2, 1), (3, 2); "
    "create materialized view shop.per_customer as "
    "select customer, count(*) as orders from shop.orders group by customer; "
    "create materialized view shop.unindexed as select customer from shop.orders; "
    "create unique index per_customer_key on shop.per_customer (customer); "
    "create materialized view shop.empty as select 1 as one with no data; "
    "create unique index empty_key on shop.empty (one)"
)


@pytest.fixture
def views(database: Database) -> Iterator[Database]:
    database.execute(VIEWS)
    yield database


def _props(cron_db: str, database: Database, view: str, **more: Any) -> dict[str, Any]:
    refresh = Refresh("shop", view, more.pop("concurrently", True))
    return {
        "conninfo": cron_db, "app_conninfo": database.conninfo,
        "source": "apps/shop.yaml", "schema": "shop", "view": view,
        "concurrently": refresh.concurrently, "name": f"test-refresh-{view}",
        "schedule": "*/5 * * * *", "command": refresh.command, "database": database.name,
        "active": True, **more,
    }  # fmt: skip


def test_a_concurrent_refresh_is_scheduled_and_its_command_refreshes(
    cron_db: str, views: Database
) -> None:
    props = _props(cron_db, views, "per_customer")
    provider = MaterializedViewRefreshProvider()
    provider.create(props)
    try:
        job = cron.read(cron_db, "test-refresh-per_customer")
        assert job is not None
        assert job.command == 'REFRESH MATERIALIZED VIEW CONCURRENTLY "shop"."per_customer"'
        views.execute("insert into shop.orders values (4, 3)")
        views.execute(job.command)
        assert views.scalar("select count(*) from shop.per_customer") == 3

        state = matviews.status(views.conninfo, cron_db, Refresh("shop", "per_customer"), job.name)
        assert (state.populated, state.refreshed_s_ago) == (True, None)  # pg_cron has not run it
    finally:
        provider.delete("", props)


@pytest.mark.parametrize(
    ("view", "concurrently", "message"),
    [
        ("unindexed", True, r"apps/shop.yaml: materializedViews: shop.unindexed: concurrently: "
         r"true needs a unique index on the view over plain columns"),
        ("empty", True, r"shop.empty: concurrently: true needs a populated view, and this one "
         r"was created WITH NO DATA"),
        ("orders", False, r"shop.orders: is not a materialized view; create it in a migration"),
        ("missing", False, r"shop.missing: is not a materialized view"),
    ],
)  # fmt: skip
def test_a_view_its_job_could_never_refresh_is_refused_before_the_job_exists(
    cron_db: str, views: Database, view: str, concurrently: bool, message: str
) -> None:
    props = _props(cron_db, views, view, concurrently=concurrently)
    with pytest.raises(SupastackError, match=message):
        MaterializedViewRefreshProvider().create(props)
    assert cron.read(cron_db, f"test-refresh-{view}") is None


def test_a_plain_refresh_needs_no_unique_index(cron_db: str, views: Database) -> None:
    props = _props(cron_db, views, "unindexed", concurrently=False)
    provider = MaterializedViewRefreshProvider()
    provider.create(props)
    try:
        job = cron.read(cron_db, "test-refresh-unindexed")
        assert job is not None and "CONCURRENTLY" not in job.command
    finally:
        provider.delete("", props)
