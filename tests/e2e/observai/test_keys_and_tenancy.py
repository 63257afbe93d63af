"""API keys (shown once, stored as digests, revoked once), who manages them, and tenant
isolation through every function and table."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.e2e.conftest import As
from tests.e2e.observai.deployed import (
    DENIED,
    Hub,
    error_of,
    utc_now,
)


def test_a_key_is_shown_once_and_only_its_digest_is_stored(hub: Hub) -> None:
    prefix, digest, scopes = hub.rows(
        "select prefix, key_digest, scopes from observai.api_keys where prefix = %s",
        hub.a.key[:12],
    )[0]  # fmt: skip
    assert (prefix, bytes(digest), scopes) == (
        hub.a.key[:12],
        hashlib.sha256(hub.a.key.encode()).digest(),
        ["ingest", "read"],
    )
    dump = json.dumps(hub.rows("select to_jsonb(k) from observai.api_keys k"), default=str)
    assert hub.a.key not in dump and hub.a.key[12:] not in dump
    audited = hub.scalar("select count(*) from observai.audit_log where organization_id = %s "
                         "and action = 'api_key.created'", hub.a.id)  # fmt: skip
    assert audited == hub.scalar("select count(*) from observai.api_keys "
                                 "where organization_id = %s", hub.a.id) >= 2  # fmt: skip


def test_an_owner_creates_and_revokes_keys_a_viewer_cannot(hub: Hub) -> None:
    owner, viewer = (
        As(hub.services, "authenticated", hub.a.owner),
        As(hub.services, "authenticated", hub.a.viewer),
    )
    created = owner.run("select id, api_key from observai.create_api_key(%s, 'tmp', '{read}')",
                        [hub.a.id])  # fmt: skip
    assert isinstance(created, list) and created[0][1].startswith("oai_")
    assert viewer.outcome(
        "select * from observai.create_api_key(%s, 'x', '{read}')", [hub.a.id]
    ) == ("OA404", "no such organization")
    # an owner of another organization is told the same as for one that does not exist
    stranger = As(hub.services, "authenticated", hub.b.owner)
    assert stranger.outcome("select observai.revoke_api_key(%s)", [str(uuid.uuid4())]) == (
        "OA404", "no such API key")  # fmt: skip
    key_id = hub.scalar("select id from observai.api_keys where prefix = %s", hub.a.read_key[:12])
    assert stranger.outcome("select observai.revoke_api_key(%s)", [key_id]) == (
        "OA404", "no such API key")  # fmt: skip
    assert owner.run("select * from observai.api_keys") == DENIED  # digests: no API role reads
    # nor how many keys there are, across organizations, from the statistics
    assert owner.run("select n_live_tup from pg_stat_user_tables where relname = 'api_keys'") \
        == DENIED  # fmt: skip
    assert owner.run("select pg_stat_get_live_tuples('observai.api_keys'::regclass)") == DENIED


def test_ten_revocations_of_one_key_at_once_revoke_it_once(hub: Hub) -> None:
    """Retries of one revocation sent together, each committed as the owner: one revokes (and
    is audited once), the others are told what a later retry is told, never a server error."""
    key_id, prefix = hub.rows(
        "select id, prefix from observai.create_api_key(%s, 'twice', '{read}')", hub.a.id
    )[0]
    claims = json.dumps({"role": "authenticated", "sub": hub.a.owner})
    barrier = threading.Barrier(10)

    def revoke() -> tuple[str, str] | None:
        with hub.services.connect() as conn:
            barrier.wait()  # released together
            try:
                with conn.transaction():  # committed, as the function's own call would be
                    conn.execute("set local role authenticated")
                    conn.execute("select set_config('request.jwt.claims', %s, true)", [claims])
                    conn.execute("select observai.revoke_api_key(%s)", [key_id])
            except psycopg.Error as error:
                return str(error.sqlstate), str(error.diag.message_primary)
        return None

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: revoke(), range(10)))
    assert sorted(answers, key=str) == [("OA404", "no such API key")] * 9 + [None]
    audited = "select count(*) from observai.audit_log where action = 'api_key.revoked' and "
    assert hub.scalar(audited + "target = %s", prefix) == 1
    assert hub.scalar("select revoked_at is not null from observai.api_keys where id = %s", key_id)


def test_a_token_without_a_subject_is_not_the_service(hub: Hub) -> None:
    """An `authenticated` token whose claims carry no `sub` is refused by the key functions
    (it was taken for the service: a key for any organization could be made with it); the
    service is service_role."""
    count = "select count(*) from observai.api_keys where organization_id = %s"
    before = hub.scalar(count, hub.b.id)
    nobody = As(hub.services, "authenticated")  # role authenticated, no sub
    refused = ("OA401", "a signed-in user (a token with a subject) or the service")
    assert nobody.outcome("select * from observai.create_api_key(%s, 'x', '{read}')",
                          [hub.b.id]) == refused  # fmt: skip
    key_id = hub.scalar("select id from observai.api_keys where prefix = %s", hub.b.key[:12])
    assert nobody.outcome("select observai.revoke_api_key(%s)", [key_id]) == refused
    assert (
        As(hub.services, "anon").run(  # anon reaches nothing of the schema
            "select * from observai.create_api_key(%s, 'x', '{read}')", [hub.b.id]
        )
        == "42501"
    )
    assert hub.scalar(count, hub.b.id) == before
    assert hub.scalar("select revoked_at is null from observai.api_keys where id = %s", key_id)
    service = As(hub.services, "service_role")
    made = service.run("select prefix from observai.create_api_key(%s, 'svc', '{read}')",
                       [hub.b.id])  # fmt: skip
    assert isinstance(made, list) and made[0][0].startswith("oai_")  # (rolled back by As)


def test_one_tenants_traffic_never_spends_anothers_limit(hub: Hub) -> None:
    """The limits count who the caller is (an API key by its digest), never the address the
    caller writes: a key claiming an address that another tenant exhausted is not throttled,
    and without the header two tenants no longer share one bucket."""
    burst, calm = (
        hub.scalar("select api_key from observai.create_api_key(%s, 'burst', '{read}')", org.id)
        for org in (hub.a, hub.b)
    )
    claimed = {"X-Forwarded-For": "203.0.113.9"}
    sent = 0  # until A's key is refused (120 a minute and a refill: bounded, not timed)
    while hub.get("metrics-export", {**hub.keyed(burst), **claimed}).status_code != 429:
        sent += 1
        assert sent < 400, "the limit never refused tenant A"
    assert sent >= 120
    assert hub.get("metrics-export", {**hub.keyed(calm), **claimed}).status_code == 200
    assert hub.get("metrics-export", hub.keyed(calm)).status_code == 200


# -- tenant isolation ----------------------------------------------------------------------------


def test_a_key_or_member_never_reaches_another_organization(hub: Hub, fresh_budgets: None) -> None:
    body = {"metrics": [{"name": "secret.revenue", "value": 1e6}]}
    assert hub.ingest(hub.keyed(hub.a.key), body).status_code == 202
    hub.rows("select * from observai.aggregate()")
    # naming the other organization: the same answer as an organization that does not exist
    for headers in (hub.keyed(hub.b.key), hub.signed_in(hub.b.owner)):
        for fn in ("metrics", "metrics-export", "alerts"):
            other = hub.get(fn, headers, organization="acme", name="secret.revenue")
            missing = hub.get(fn, headers, organization="no-such-org", name="secret.revenue")
            assert error_of(other) == error_of(missing) == (404, "NOT_FOUND")
            assert other.json()["error"]["message"] == missing.json()["error"]["message"]
        assert error_of(hub.ingest(headers, body, organization="acme")) == (404, "NOT_FOUND")
    # its own view: none of the other's series
    own = hub.get("metrics", hub.keyed(hub.b.read_key), name="secret.revenue")
    assert own.json()["points"] == []
    export = hub.get("metrics-export", hub.keyed(hub.b.read_key)).text
    assert "secret.revenue" not in export
    assert hub.scalar("select count(*) from observai.metrics where organization_id = %s "
                      "and name = 'secret.revenue'", hub.b.id) == 0  # fmt: skip


@pytest.mark.parametrize(
    "table", ["organizations", "members", "metrics", "rollups", "anomalies", "alert_definitions",
              "alert_events", "audit_log"],
)  # fmt: skip
def test_members_read_only_their_organizations_rows(
    hub: Hub, table: str, fresh_budgets: None
) -> None:
    # both organizations own rollups whatever the clock: a point an hour old lies in complete
    # buckets of every resolution, and aggregate() re-rolls it as a backfill
    hour_ago = (utc_now() - dt.timedelta(hours=1)).isoformat()
    for org in (hub.a, hub.b):
        point = {"metrics": [{"name": "isolation.probe", "value": 1, "timestamp": hour_ago}]}
        assert hub.ingest(hub.keyed(org.key), point).status_code == 202
    hub.rows("select * from observai.aggregate()")
    column = "id" if table == "organizations" else "organization_id"
    query = f"select distinct {column}::text from observai.{table}"  # noqa: S608
    seen = As(hub.services, "authenticated", hub.b.owner).run(query)
    has_rows = table in ("organizations", "members", "metrics", "rollups", "audit_log")
    assert seen == ([(hub.b.id,)] if has_rows else [])
    assert As(hub.services, "authenticated", hub.a.outsider).run(query) == []
    assert As(hub.services, "anon").run(query) == DENIED


def test_only_owners_and_admins_read_the_audit_log(hub: Hub) -> None:
    query = "select count(*) from observai.audit_log"
    assert As(hub.services, "authenticated", hub.a.viewer).run(query) == [(0,)]
    owner_sees = As(hub.services, "authenticated", hub.a.owner).run(query)
    assert isinstance(owner_sees, list) and owner_sees[0][0] > 0
    # the ids an owner sees say nothing of how much other organizations logged between them
    # (they were counted by one sequence for all); so for anomalies and alert events
    ids = As(hub.services, "authenticated", hub.a.owner).run("select id from observai.audit_log")
    assert isinstance(ids, list) and ids and all(isinstance(row[0], uuid.UUID) for row in ids)
    assert hub.rows(
        "select table_name from information_schema.columns where table_schema = 'observai' "
        "and column_name = 'id' and data_type = 'uuid' and table_name = any(%s) order by 1",
        ["audit_log", "anomalies", "alert_events"],
    ) == [("alert_events",), ("anomalies",), ("audit_log",)]
