"""Who may ask for whom (and the audit of admins), the RLS matrix, and every function's
rejections."""

from __future__ import annotations

import json
import uuid

import httpx
import psycopg
import pytest

from tests.e2e.conftest import As
from tests.e2e.personalized.deployed import (
    DENIED,
    Stack,
    synthetic_user,
    weekday_ahead,
)


def test_a_user_asks_only_for_themselves_and_an_admins_reads_are_audited(stack: Stack) -> None:
    someone, roommate = synthetic_user(stack, "big_spender")
    me = str(uuid.uuid4())
    ahead = weekday_ahead(stack, 10).isoformat()
    params = {"userId": someone, "roommateId": roommate, "targetDate": ahead}
    audited = "select count(*) from personalized.admin_audit_log where subject_user_id = %s"
    before = stack.scalar(audited, someone)
    for function, asked in [("transaction-recommendations", params), ("user-archetype", params)]:
        url = f"{stack.url}/{function}"
        refused = httpx.get(url, params=asked, headers=stack.token(me))
        nobody = httpx.get(url, params={**asked, "userId": str(uuid.uuid4())},
                           headers=stack.token(me))  # fmt: skip
        # another user and no such user: the same answer
        assert (refused.status_code, nobody.status_code) == (403, 403)
        assert refused.json()["error"] == nobody.json()["error"]
        admin = str(uuid.uuid4())
        answered = httpx.get(url, params=asked, headers=stack.token(admin, admin=True))
        assert answered.status_code == 200, answered.text
        assert stack.rows(
            "select admin_id::text from personalized.admin_audit_log where subject_user_id = %s "
            "order by id desc limit 1", someone,
        ) == [(admin,)]  # fmt: skip
    assert stack.scalar(audited, someone) == before + 2
    archetype = httpx.get(f"{stack.url}/user-archetype", params={"userId": someone},
                          headers=stack.token(someone)).json()  # fmt: skip
    assert (archetype["archetype"], archetype["features"]["transactions"] >= 3) == (
        "big_spender", True,
    )  # fmt: skip
    assert stack.scalar(audited, someone) == before + 2  # their own reads are not audited


def test_admins_read_archetypes_through_the_audited_rpc_only(stack: Stack) -> None:
    admin, user = str(uuid.uuid4()), synthetic_user(stack, "high_flexibility")[0]
    # through the table (a SELECT cannot write an audit row) an admin sees only their own rows
    assert As(stack.services, "authenticated", admin).run(
        "select count(*) from personalized.user_archetypes"
    ) == [(0,)]
    read = stack.call(admin, "select array_agg(user_id::text) from "
                      "personalized.admin_user_archetypes(%s)", user, admin=True)  # fmt: skip
    assert read == [user]
    assert stack.rows(
        "select action, subject_user_id::text from personalized.admin_audit_log "
        "where admin_id = %s", admin,
    ) == [("read_archetypes", user)]  # fmt: skip
    refused = As(stack.services, "authenticated", str(uuid.uuid4())).outcome(
        "select * from personalized.admin_user_archetypes()"
    )
    assert refused == ("PD403", "admins only")


def test_an_admin_claim_without_a_subject_is_no_admin(stack: Stack) -> None:
    """A token with Supabase's admin claim but no `sub` read everyone's archetypes, audited as
    nobody's; an admin is a signed-in user."""
    claims = {"role": "authenticated", "app_metadata": {"role": "admin"}}
    audited = "select count(*) from personalized.admin_audit_log where admin_id is null"
    before = stack.scalar(audited)
    with (
        stack.services.connect() as conn,
        pytest.raises(psycopg.Error) as refused,
        conn.transaction(),
    ):
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
        conn.execute("select * from personalized.admin_user_archetypes()")
    assert (refused.value.sqlstate, refused.value.diag.message_primary) == ("PD403", "admins only")
    assert stack.scalar(audited) == before


TABLES = ("users", "roommates", "transactions", "user_archetypes", "recommendation_logs",
          "date_change_requests", "admin_audit_log", "archetype_job_logs")  # fmt: skip
VIEWS = ("edge_function_logs", "follow_rate_hourly", "follow_rate_by_archetype",
         "request_conversion")  # fmt: skip


def test_the_rls_matrix(stack: Stack) -> None:
    user = synthetic_user(stack, "big_spender")[0]
    other = synthetic_user(stack, "high_flexibility")[0]
    stack.recommend(user)
    admin_claims = As(stack.services, "authenticated", str(uuid.uuid4()))
    for table in TABLES:
        query = f"select count(*) from personalized.{table}"  # noqa: S608 (a fixed table name)
        total = stack.scalar(query)
        own = stack.scalar(
            f"select count(*) from personalized.{table} where "  # noqa: S608
            + ("user_id = %s or roommate_id = %s" if table == "date_change_requests" else
               "false" if table in ("admin_audit_log", "archetype_job_logs") else "user_id = %s"),
            *([user, user] if table == "date_change_requests" else
              [] if table in ("admin_audit_log", "archetype_job_logs") else [user]),
        )  # fmt: skip
        assert As(stack.services, "anon").run(query) == DENIED, table
        assert As(stack.services, "authenticated", user).run(query) == [(own,)], table
        assert As(stack.services, "service_role").run(query) == [(total,)], table
        assert admin_claims.run(query) == [(0,)], table
        assert total > 0 or table == "date_change_requests", table
    assert As(stack.services, "authenticated", other).run(
        "select count(*) from personalized.user_archetypes where user_id = %s", [user]
    ) == [(0,)]
    for view in VIEWS:
        query = f"select count(*) from personalized.{view}"  # noqa: S608 (a fixed view name)
        assert As(stack.services, "authenticated", user).run(query) == DENIED, view
        assert isinstance(As(stack.services, "service_role").run(query), list), view


def test_every_function_refuses_what_it_must(stack: Stack) -> None:
    user = str(uuid.uuid4())
    recommend = f"{stack.url}/transaction-recommendations"
    good = {"targetDate": stack.day(5).isoformat(), "roommateId": str(uuid.uuid4())}
    anon_key = {"Authorization": f"Bearer {stack.services.credentials.anon_key}"}
    cases = [
        (httpx.get(recommend, params=good), 401),  # no JWT: the gateway
        (httpx.get(recommend, params=good, headers=anon_key), 401),  # the guide's curl
        (httpx.post(recommend, params=good, headers=stack.token(user)), 405),
        (httpx.get(recommend, params={**good, "targetDate": "2026-02-30"},
                   headers=stack.token(user)), 422),
        (httpx.get(recommend, params={**good, "targetDate": stack.day(-1).isoformat()},
                   headers=stack.token(user)), 422),
        (httpx.get(recommend, params={**good, "roommateId": "test2"},
                   headers=stack.token(user)), 422),
        (httpx.get(recommend, params={**good, "roommateId": user}, headers=stack.token(user)), 422),
        (httpx.get(recommend, params={**good, "userId": "test"}, headers=stack.token(user)), 422),
        (httpx.get(f"{stack.url}/user-archetype", params={"userId": "x"},
                   headers=stack.token(user)), 422),
    ]  # fmt: skip
    job = f"{stack.url}/archetype-recalculation-job"
    for body, status in [
        ({}, 422),
        ({"config": {"batchSize": 0, "onlyStaleUsers": True}}, 422),
        ({"config": {"batchSize": 10.5, "onlyStaleUsers": True}}, 422),
        ({"config": {"batchSize": 10, "onlyStaleUsers": "yes"}}, 422),
        ({"config": {"batchSize": 10, "onlyStaleUsers": True, "dryRun": True}}, 422),
    ]:
        cases.append((httpx.post(job, json=body, headers=stack.job()), status))
    cases += [
        (httpx.post(job, json={"config": {"batchSize": 10, "onlyStaleUsers": True}}), 401),
        (httpx.post(job, json={"config": {"batchSize": 10, "onlyStaleUsers": True}},
                    headers=stack.token(user)), 401),  # verify_jwt off: a JWT is no identity
        (httpx.post(job, content=b"{", headers=stack.job()), 400),
    ]  # fmt: skip
    assert [(a.status_code, status) for a, status in cases] == [(s, s) for _, s in cases]
    # past the gateway (the first two), every refusal is the middleware's JSON with a request id
    assert all("request_id" in a.json() for a, _ in cases[2:])
