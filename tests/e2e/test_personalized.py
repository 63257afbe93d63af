"""The personalized-defaults app, deployed by the program (offline harness) to a fresh local
target with its synthetic population seeded: the classification and its distribution, the
recalculation job (batches, restarted mid-way, only stale users, two at once), recommendations
per archetype and context, who may ask for whom (and the audit of admins), the flag off, on and
at a percentage, date changes and the business views, the RLS matrix, every function's
rejections, and the stack's smoke tests."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from applier.engine import deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as run_smoke
from supastack.local.credentials import sign_jwt
from tests.clock import DAYS, EACH_DAY, DatabaseClock
from tests.conftest import Services, wait_until
from tests.e2e.conftest import As, DeployedApp, local_config

FLAG = "pattern_1_personalized_defaults"
DENIED = "42501"
FUNCTIONS = ("transaction-recommendations", "user-archetype", "archetype-recalculation-job")


class Stack(DeployedApp):
    def token(self, user: str, admin: bool = False) -> dict[str, str]:
        claims: dict[str, object] = {"role": "authenticated", "sub": user}
        if admin:
            claims["app_metadata"] = {"role": "admin"}
        return {"Authorization": f"Bearer {sign_jwt(self.services.credentials.jwt_secret, claims)}"}

    def call(self, user: str, statement: str, *params: object, admin: bool = False) -> Any:
        """An RPC as the signed-in user (as PostgREST makes it), committed; its value."""
        claims: dict[str, object] = {"role": "authenticated", "sub": user}
        if admin:
            claims["app_metadata"] = {"role": "admin"}
        with self.services.connect() as conn, conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            row = conn.execute(statement.encode(), params or None).fetchone()
        return row[0] if row else None

    def day(self, n: int) -> dt.date:
        """``n`` days after the database's today, the date its SQL counts notice from (the test
        process's own date may differ: the tests move the database's clock)."""
        return DatabaseClock.today(self.services.dsn()) + dt.timedelta(days=n)

    def recommend(self, user: str, **params: str) -> httpx.Response:
        asked = {"targetDate": self.day(10).isoformat(), "roommateId": str(uuid.uuid4()), **params}
        return httpx.get(f"{self.url}/transaction-recommendations", params=asked,
                         headers=self.token(user), timeout=30)  # fmt: skip


def _weekday(stack: Stack, start: int) -> dt.date:
    """The first Monday to Thursday at least ``start`` days ahead."""
    day = stack.day(start)
    while day.isoweekday() > 4:
        day += dt.timedelta(days=1)
    return day


def _weekend(stack: Stack, start: int) -> dt.date:
    """The first Saturday or Sunday at least ``start`` days ahead."""
    day = stack.day(start)
    while day.isoweekday() < 6:
        day += dt.timedelta(days=1)
    return day


def _short_notice_weekday(stack: Stack) -> dt.date:
    """A weekday at most two days ahead (short notice): tomorrow, the day after, or today
    (on a Friday, the weekend is next)."""
    return next(d for d in (stack.day(1), stack.day(2), stack.day(0)) if d.isoweekday() < 6)


def _config(services: Services, **flag: object) -> dict[str, str]:
    return local_config(services, apps=["personalized"],
                        flags={FLAG: {"enabled": True, "percentage": 100, **flag}})  # fmt: skip


@pytest.fixture(scope="module")
def stack(fresh: Services) -> Iterator[Stack]:
    yield Stack(fresh, deploy(_config(fresh)))


def _of(stack: Stack, archetype: str, nth: int = 0) -> tuple[str, str]:
    """A synthetic user of the archetype (the ``nth`` one) and their roommate."""
    user, roommate = stack.rows(
        "select a.user_id::text, r.roommate_id::text from personalized.user_archetypes a "
        "join personalized.users u using (user_id) join personalized.roommates r using (user_id) "
        "where u.synthetic and a.archetype_type = %s order by a.user_id limit 1 offset %s",
        archetype,
        nth,
    )[0]
    return str(user), str(roommate)


# -- archetypes -------------------------------------------------------------------------------


def test_the_synthetic_population_lands_in_the_guides_distribution(stack: Stack) -> None:
    shares = dict(
        stack.rows(
            "select archetype_type, share::float8 from personalized.synthetic_distribution(false)"
        )
    )
    assert 0.15 <= shares["big_spender"] <= 0.20
    assert 0.20 <= shares["high_flexibility"] <= 0.25
    assert 0.55 <= shares["average_user"] <= 0.65
    assert stack.scalar("select count(*) from personalized.users where synthetic") == 1000


@pytest.mark.parametrize(
    ("features", "archetype", "confidence"),
    [
        ({"transactions": 2, "paid_share": 1, "swap_share": 0, "avg_paid_cents": 9000},
         "average_user", 0.05),
        ({"transactions": 20, "paid_share": 0.6, "swap_share": 0.4, "avg_paid_cents": 4000},
         "big_spender", 0.8),
        ({"transactions": 20, "paid_share": 0.9, "swap_share": 0.1, "avg_paid_cents": 3999},
         "average_user", 0.6),
        ({"transactions": 10, "paid_share": 0.5, "swap_share": 0.5, "avg_paid_cents": 9000},
         "high_flexibility", 0.5),
        ({"transactions": 40, "paid_share": 0.55, "swap_share": 0.45, "avg_paid_cents": 1500},
         "average_user", 0.95),
    ],
)  # fmt: skip
def test_the_classification_is_the_documented_rules(
    stack: Stack, features: dict[str, float], archetype: str, confidence: float
) -> None:
    found = stack.rows(
        "select archetype_type, confidence::float8 from personalized.classify(%s::jsonb)",
        json.dumps(features),
    )
    assert found == [(archetype, confidence)]


def _run(stack: Stack, batch: int, only_stale: bool) -> httpx.Response:
    return httpx.post(f"{stack.url}/archetype-recalculation-job", headers=stack.job(),
                      json={"config": {"batchSize": batch, "onlyStaleUsers": only_stale}},
                      timeout=120)  # fmt: skip


def _archetypes(stack: Stack) -> list[tuple[Any, ...]]:
    return stack.rows(
        "select user_id, archetype_type, confidence, features from personalized.user_archetypes "
        "order by user_id"
    )


def test_the_job_runs_in_batches_idempotently_and_only_for_stale_users(stack: Stack) -> None:
    before = _archetypes(stack)
    users = stack.scalar("select count(*) from personalized.users")
    runs = stack.scalar("select count(*) from personalized.archetype_job_logs")
    full = _run(stack, 100, False)
    assert full.status_code == 200, full.text
    assert (full.json()["status"], full.json()["processed"]) == ("completed", users)
    assert _archetypes(stack) == before  # the same history gives the same archetypes
    assert stack.scalar("select count(*) from personalized.archetype_job_logs") == runs + 1
    logged = stack.rows(
        "select config, processed, failed, completed_at is not null from "
        "personalized.archetype_job_logs where id = %s", full.json()["runId"]
    )  # fmt: skip
    assert logged == [({"batchSize": 100, "onlyStaleUsers": False}, users, 0, True)]

    assert _run(stack, 100, True).json()["processed"] == 0  # all fresh now
    user, roommate = _of(stack, "average_user")
    stack.scalar(
        "insert into personalized.transactions (user_id, roommate_id, option, amount_cents, "
        "days_notice) values (%s, %s, 'swap_dates', 0, 3) returning 1", user, roommate,
    )  # fmt: skip
    assert _run(stack, 100, True).json()["processed"] == 1  # the one with a newer transaction


def test_a_run_stopped_mid_way_is_resumed_at_its_cursor_and_two_at_once_are_refused(
    stack: Stack,
) -> None:
    users = stack.scalar("select count(*) from personalized.users")
    run = stack.scalar(
        'select personalized.start_recalculation(\'{"batchSize": 300, "onlyStaleUsers": false}\')'
    )
    assert stack.scalar("select personalized.recalculate_batch(%s)", run) == 300
    # its process is gone but it showed a sign of life less than two minutes ago: refused
    refused = _run(stack, 100, False)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CONFLICT"
    stack.scalar("update personalized.archetype_job_logs set heartbeat_at = now() - "
                 "interval '3 minutes' where id = %s returning 1", run)  # fmt: skip
    resumed = _run(stack, 100, False)
    assert resumed.status_code == 200
    assert resumed.json()["runId"] == run  # the same run, its own config (batches of 300)
    assert resumed.json()["processed"] == users  # each user once
    assert stack.scalar("select count(*) from personalized.archetype_job_logs "
                        "where status = 'running'") == 0  # fmt: skip


# -- recommendations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("archetype", "primary"),
    [("big_spender", "pay_premium"), ("high_flexibility", "swap_dates"),
     ("average_user", "split_cost")],
)  # fmt: skip
def test_the_primary_option_follows_the_archetype(
    stack: Stack, archetype: str, primary: str
) -> None:
    user, roommate = _of(stack, archetype)
    answer = stack.recommend(user, roommateId=roommate, targetDate=_weekday(stack, 10).isoformat())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) >= {"primaryRecommendation", "options", "userArchetype", "contextFactors"}
    assert body["primaryRecommendation"]["option"] == primary
    assert len(body["options"]) == 3
    assert {o["option"] for o in body["options"]} == {"swap_dates", "split_cost", "pay_premium"}
    scores = [o["score"] for o in body["options"]]
    assert scores == sorted(scores, reverse=True)
    assert body["userArchetype"]["type"] == archetype and body["personalized"] is True
    logged = stack.rows(
        "select user_id::text, primary_option, archetype_type, personalized "
        "from personalized.recommendation_logs where id = %s", body["recommendationId"],
    )  # fmt: skip
    assert logged == [(user, primary, archetype, True)]


@EACH_DAY
def test_the_context_moves_the_scores(stack: Stack, day: dt.date) -> None:
    """On each day of the week and where a month or a year rolls over (the database's clock
    moved there): notice and weekend are counted from the database's today. Users of their own
    (past the ones other tests take): the limiter's buckets they use carry the moved clock."""
    user, roommate = _of(stack, "average_user", 100 + list(DAYS.values()).index(day))
    with stack.services.clock.moved_to(day, stack.services.dsn()):
        calm_day, rushed_day = _weekday(stack, 10), _short_notice_weekday(stack)
        calm = stack.recommend(user, roommateId=roommate, targetDate=calm_day.isoformat()).json()
        rushed = stack.recommend(user, roommateId=roommate, targetDate=rushed_day.isoformat())
        weekend = stack.recommend(user, roommateId=roommate,
                                  targetDate=_weekend(stack, 10).isoformat()).json()  # fmt: skip
        assert {o["option"]: o["score"] for o in calm["options"]} == {
            "split_cost": 0.5, "swap_dates": 0.3, "pay_premium": 0.2,
        }  # fmt: skip
        assert rushed.status_code == 200, rushed.text
        assert rushed.json()["contextFactors"]["daysNotice"] == (rushed_day - day).days <= 2
        assert {o["option"]: o["score"] for o in rushed.json()["options"]} == {
            "split_cost": 0.5, "pay_premium": 0.4, "swap_dates": 0.1,
        }  # fmt: skip
        assert weekend["contextFactors"]["weekend"] is True
        assert {o["option"]: o["score"] for o in weekend["options"]} == {
            "split_cost": 0.5, "swap_dates": 0.2, "pay_premium": 0.2,
        }  # fmt: skip
        # a roommate who declined three cost splits and accepted three premiums
        for option, status in [("split_cost", "declined")] * 3 + [("pay_premium", "accepted")] * 3:
            stack.scalar(
                "insert into personalized.date_change_requests (user_id, roommate_id, "
                "target_date, option, status, decided_at) values (%s, %s, current_date + 5, %s, "
                "%s, now()) returning 1", user, roommate, option, status,
            )  # fmt: skip
        known = stack.recommend(user, roommateId=roommate, targetDate=rushed_day.isoformat())
        assert known.json()["contextFactors"]["roommateAcceptance"] == {
            "split_cost": 0, "pay_premium": 1,
        }  # fmt: skip
        assert known.json()["primaryRecommendation"]["option"] == "pay_premium"  # 0.55 over 0.35
    logged = (
        "select count(*) from personalized.recommendation_logs where user_id = %s and "
        "target_date = %s"
    )
    assert stack.scalar(logged, user, rushed_day) == 2


# -- who may ask for whom -----------------------------------------------------------------------


def test_a_user_asks_only_for_themselves_and_an_admins_reads_are_audited(stack: Stack) -> None:
    someone, roommate = _of(stack, "big_spender")
    me = str(uuid.uuid4())
    ahead = _weekday(stack, 10).isoformat()
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
    admin, user = str(uuid.uuid4()), _of(stack, "high_flexibility")[0]
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


# -- the flag -----------------------------------------------------------------------------------


def _personalized(stack: Stack, users: list[str]) -> dict[str, bool]:
    answers = {u: stack.recommend(u).json() for u in users}
    assert all("personalized" in a for a in answers.values()), answers  # never an error
    return {u: a["personalized"] for u, a in answers.items()}


def test_the_flag_off_on_and_at_a_percentage(stack: Stack) -> None:
    user = _of(stack, "big_spender")[0]
    synthetic = "select user_id from personalized.users where synthetic order by user_id limit 40"
    users = [str(u) for (u,) in stack.rows(synthetic)]
    try:
        stack.deployment = deploy(_config(stack.services, enabled=False), previous=stack.deployment)
        # each probe spends the user's rate limit (120 a minute): a poll every half second
        wait_until(lambda: stack.recommend(user).json()["personalized"] is False, every=0.5)
        off = stack.recommend(user).json()
        assert off["primaryRecommendation"]["option"] == "split_cost"  # the default order
        assert off["userArchetype"] is None
        assert "off for this user" in off["contextFactors"]["reason"]

        at_half = _config(stack.services, percentage=50, allow=[user])
        stack.deployment = deploy(at_half, previous=stack.deployment)
        expected = {
            u: bool(stack.scalar("select monitoring.flag_enabled(%s, %s)", FLAG, u)) for u in users
        }
        assert 0 < sum(expected.values()) < len(users)  # some in, some out
        wait_until(lambda: _personalized(stack, users) == expected, timeout=20, every=0.5)
        assert stack.recommend(user).json()["personalized"] is True  # allow-listed
    finally:
        stack.deployment = deploy(_config(stack.services), previous=stack.deployment)
    wait_until(lambda: all(_personalized(stack, users).values()), timeout=20, every=0.5)


# -- date changes and what the business tracks -----------------------------------------------------


def test_a_followed_recommendation_and_an_accepted_request_show_in_the_views(
    stack: Stack,
) -> None:
    user, roommate = _of(stack, "big_spender")
    ahead = _weekday(stack, 10).isoformat()
    answer = stack.recommend(user, roommateId=roommate, targetDate=ahead).json()
    recommendation = answer["recommendationId"]
    views = "select sum(submitted)::int, sum(accepted)::int from personalized.request_conversion"
    submitted_before, accepted_before = stack.rows(views)[0]
    submit = "select personalized.submit_date_change(%s, %s)"
    stranger = As(stack.services, "authenticated", str(uuid.uuid4()))
    assert stranger.run(submit, [recommendation, "pay_premium"]) == "PD404"  # not theirs

    made = stack.call(user, submit, recommendation, "pay_premium")
    assert stack.scalar("select followed_recommendation from personalized.recommendation_logs "
                        "where id = %s", recommendation) is True  # fmt: skip
    again = As(stack.services, "authenticated", user).run(submit, [recommendation, "swap_dates"])
    assert again == "PD409"  # one date change per recommendation
    decide = "select personalized.decide_date_change(%s, true)"
    assert stranger.run(decide, [made]) == "PD404"  # only the roommate decides
    transactions = "select count(*) from personalized.transactions where user_id = %s"
    before = stack.scalar(transactions, user)
    assert stack.call(roommate, decide, made) == "accepted"
    assert stack.scalar(transactions, user) == before + 1  # the asking user's history grows
    assert stack.rows(views)[0] == (submitted_before + 1, accepted_before + 1)
    assert stack.scalar("select sum(request_count) from personalized.follow_rate_hourly") >= 1
    assert stack.rows("select archetype_type from personalized.follow_rate_by_archetype "
                      "where acted_on > 0") == [("big_spender",)]  # fmt: skip
    assert stack.scalar("select count(*) from personalized.edge_function_logs where "
                        "function_name = 'transaction-recommendations'") >= 1  # fmt: skip


# -- row level security -------------------------------------------------------------------------

TABLES = ("users", "roommates", "transactions", "user_archetypes", "recommendation_logs",
          "date_change_requests", "admin_audit_log", "archetype_job_logs")  # fmt: skip
VIEWS = ("edge_function_logs", "follow_rate_hourly", "follow_rate_by_archetype",
         "request_conversion")  # fmt: skip


def test_the_rls_matrix(stack: Stack) -> None:
    user = _of(stack, "big_spender")[0]
    other = _of(stack, "high_flexibility")[0]
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


# -- rejections ---------------------------------------------------------------------------------


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


# -- the stack ----------------------------------------------------------------------------------


def test_the_nightly_job_calls_the_function_with_the_job_secret_from_vault(stack: Stack) -> None:
    schedule, command = stack.rows(
        "select schedule, command from cron.job where jobname = 'daily-archetype-recalculation'"
    )[0]
    assert schedule == "0 2 * * *"
    assert "archetype-recalculation-job" in command and "vault.decrypted_secrets" in command
    assert '"batchSize": 100' in command and '"onlyStaleUsers": true' in command
    assert "current_setting" not in command


def test_the_stack_passes_its_smoke_tests_and_the_apps_verify_checks(stack: Stack) -> None:
    results = run_smoke(StackOutputs.model_validate(stack.deployment.outputs))
    failed = [f"{r.name}: {r.detail}" for r in results if not r.ok]
    assert failed == []
    assert any(r.name.startswith("personalized verify: after a recalculation") for r in results)
