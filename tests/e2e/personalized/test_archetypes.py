"""The classification and its distribution, and the recalculation job (batches, restarted
mid-way, only stale users, two at once)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.personalized.deployed import (
    Stack,
    synthetic_user,
)


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
    # what the package's other tests changed (users, transactions), computed first
    assert _run(stack, 100, False).status_code == 200
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
    user, roommate = synthetic_user(stack, "average_user")
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
