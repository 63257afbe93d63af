"""The flag off, on and at a percentage, the nightly job's call, and the stack's smoke tests."""

from __future__ import annotations

from applier.engine import deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as run_smoke
from tests.conftest import wait_until
from tests.e2e.personalized.deployed import (
    FLAG,
    Stack,
    config_with_flag,
    synthetic_user,
)


def _personalized(stack: Stack, users: list[str]) -> dict[str, bool]:
    answers = {u: stack.recommend(u).json() for u in users}
    assert all("personalized" in a for a in answers.values()), answers  # never an error
    return {u: a["personalized"] for u, a in answers.items()}


def test_the_flag_off_on_and_at_a_percentage(stack: Stack) -> None:
    user = synthetic_user(stack, "big_spender")[0]
    synthetic = "select user_id from personalized.users where synthetic order by user_id limit 40"
    users = [str(u) for (u,) in stack.rows(synthetic)]
    try:
        stack.deployment = deploy(
            config_with_flag(stack.services, enabled=False), previous=stack.deployment
        )
        # each probe spends the user's rate limit (120 a minute): a poll every half second
        wait_until(lambda: stack.recommend(user).json()["personalized"] is False, every=0.5)
        off = stack.recommend(user).json()
        assert off["primaryRecommendation"]["option"] == "split_cost"  # the default order
        assert off["userArchetype"] is None
        assert "off for this user" in off["contextFactors"]["reason"]

        at_half = config_with_flag(stack.services, percentage=50, allow=[user])
        stack.deployment = deploy(at_half, previous=stack.deployment)
        expected = {
            u: bool(stack.scalar("select monitoring.flag_enabled(%s, %s)", FLAG, u)) for u in users
        }
        assert 0 < sum(expected.values()) < len(users)  # some in, some out
        wait_until(lambda: _personalized(stack, users) == expected, timeout=20, every=0.5)
        assert stack.recommend(user).json()["personalized"] is True  # allow-listed
    finally:
        stack.deployment = deploy(config_with_flag(stack.services), previous=stack.deployment)
    wait_until(lambda: all(_personalized(stack, users).values()), timeout=20, every=0.5)


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
