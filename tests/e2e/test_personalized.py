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
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from applier.engine import Deployment, deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as run_smoke
from supastack.local.credentials import sign_jwt
from tests.conftest import Services, wait_until
from tests.e2e.conftest import As, local_config

FLAG = "pattern_1_personalized_defaults"
DENIED = "42501"
FUNCTIONS = ("transaction-recommendations", "user-archetype", "archetype-recalculation-job")


@dataclass
class Stack:
    services: Services
    deployment: Deployment

    @property
    def url(self) -> str:
        return f"{self.services.runtime_url}/functions/v1"

    def token(self, user: str, admin: bool = False) -> dict[str, str]:
        claims: dict[str, object] = {"role": "authenticated", "sub": user}
        if admin:
            claims["app_metadata"] = {"role": "admin"}
        return {"Authorization": f"Bearer {sign_jwt(self.services.credentials.jwt_secret, claims)}"}

    def job(self) -> dict[str, str]:
        secret = self.scalar(
            "select decrypted_secret from vault.decrypted_secrets where name = 'JOB_SECRET'"
        )
        return {"Authorization": f"Bearer {secret}"}

    def scalar(self, query: str, *params: object) -> Any:
        with self.services.connect() as conn:
            row = conn.execute(query.encode(), params or None).fetchone()
        return row[0] if row else None

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with self.services.connect() as conn:
            return conn.execute(query.encode(), params or None).fetchall()

    def recommend(self, user: str, **params: str) -> httpx.Response:
        asked = {"targetDate": _days(10).isoformat(), "roommateId": str(uuid.uuid4()), **params}
        return httpx.get(f"{self.url}/transaction-recommendations", params=asked,
                         headers=self.token(user), timeout=30)  # fmt: skip


def _days(n: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=n)


def _weekday(start: int) -> dt.date:
    """The first Monday to Thursday at least ``start`` days ahead."""
    day = _days(start)
    while day.isoweekday() > 4:
        day += dt.timedelta(days=1)
    return day


def _config(services: Services, **flag: object) -> dict[str, str]:
    return local_config(services, apps=["personalized"],
                        flags={FLAG: {"enabled": True, "percentage": 100, **flag}})  # fmt: skip


@pytest.fixture(scope="module")
def stack(fresh: Services) -> Iterator[Stack]:
    yield Stack(fresh, deploy(_config(fresh)))


def _of(stack: Stack, archetype: str) -> tuple[str, str]:
    """A synthetic user of the archetype and their roommate."""
    user, roommate = stack.rows(
        "select a.user_id::text, r.roommate_id::text from personalized.user_archetypes a "
        "join personalized.users u using (user_id) join personalized.roommates r using (user_id) "
        "where u.synthetic and a.archetype_type = %s order by a.user_id limit 1",
        archetype,
    )[0]
    return str(user), str(roommate)


# -- archetypes -------------------------------------------------------------------------------


def test_the_synthetic_population_lands_in_the_guides_distribution(stack: Stack) -> None:
    shares = dict(stack.rows(
        "select archetype_type, round(count(*)::numeric / sum(count(*)) over (), 3)::float8 "
        "from personalized.user_archetypes join personalized.users using (user_id) "
        "where synthetic group by 1"
    ))  # fmt: skip
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
    answer = stack.recommend(user, roommateId=roommate, targetDate=_weekday(10).isoformat())
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


def test_the_context_moves_the_scores(stack: Stack) -> None:
    user, roommate = _of(stack, "average_user")
    calm = stack.recommend(user, roommateId=roommate, targetDate=_weekday(10).isoformat()).json()
    rushed = stack.recommend(user, roommateId=roommate, targetDate=_days(1).isoformat()).json()
    score = {o["option"]: o["score"] for o in calm["options"]}
    assert score == {"split_cost": 0.5, "swap_dates": 0.3, "pay_premium": 0.2}
    assert rushed["contextFactors"]["daysNotice"] == 1
    assert {o["option"]: o["score"] for o in rushed["options"]} == {
        "split_cost": 0.5, "pay_premium": 0.4, "swap_dates": 0.1,
    }  # fmt: skip
    # a roommate who declined three cost splits and accepted three premiums
    for option, status in [("split_cost", "declined")] * 3 + [("pay_premium", "accepted")] * 3:
        stack.scalar(
            "insert into personalized.date_change_requests (user_id, roommate_id, target_date, "
            "option, status, decided_at) values (%s, %s, current_date + 5, %s, %s, now()) "
            "returning 1", user, roommate, option, status,
        )  # fmt: skip
    known = stack.recommend(user, roommateId=roommate, targetDate=_days(1).isoformat()).json()
    assert known["contextFactors"]["roommateAcceptance"] == {"split_cost": 0, "pay_premium": 1}
    assert known["primaryRecommendation"]["option"] == "pay_premium"  # 0.55 over 0.35
