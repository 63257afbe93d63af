"""The publication provider (components/providers/database/publication.py), called directly."""

from __future__ import annotations

from components.providers.database.publication import PublicationTablesProvider
from tests.conftest import outs
from tests.core.conftest import SHOP_ITEMS, Database


def test_publication_membership_leaves_other_tables_alone(database: Database) -> None:
    with database.connect() as conn:
        conn.execute(SHOP_ITEMS.encode())
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
