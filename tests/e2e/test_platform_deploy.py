"""The program, run by the offline harness, deploys the local stack to a fresh target."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from applier.engine import Deployment, applied_of, deploy
from supastack.cli import app
from supastack.config import settings
from supastack.local.paths import PROJECT_DIR
from supastack.migrations.files import discover_app
from tests.conftest import Services
from tests.e2e.conftest import local_config


@pytest.fixture(scope="module")
def deployment(fresh: Services) -> Deployment:
    return deploy(local_config(fresh))


def test_the_local_stack_deploys_to_a_fresh_target(fresh: Services, deployment: Deployment) -> None:
    mocks = deployment.mocks
    assert mocks.violations == []  # the policy pack passes every resource
    migrations = sorted(a.id for a in applied_of(mocks, "migrations:Migration"))
    expected = sorted(
        f"{app}:{file.version}"
        for app in settings.load(PROJECT_DIR, "local").deployed_apps
        for file in discover_app(PROJECT_DIR / "migrations", app)
    )
    assert migrations == expected
    with fresh.connect() as conn:
        job = conn.execute(
            "select schedule, active from cron.job where jobname = 'supastack-evaluate-alerts'"
        ).fetchone()
        rls = conn.execute(
            "select bool_and(relrowsecurity) from pg_class c join pg_namespace n "
            "on n.oid = c.relnamespace where n.nspname = 'monitoring' and c.relkind = 'r'"
        ).fetchone()
        evaluated = conn.execute("select monitoring.evaluate_alerts()").fetchone()
    assert job == ("* * * * *", True)
    assert deployment.outputs["exposedSchemas"] == [  # the apps with `api: true`, in order
        "public", "events", "personalized", "observai", "billing"]  # fmt: skip
    assert rls == (True,)
    assert evaluated == (len(applied_of(mocks, "alerts:AlertRule")),)  # every rule ran


def test_the_smoke_tests_pass_on_the_deployed_stack(
    fresh: Services, deployment: Deployment, tmp_path: Path
) -> None:
    outputs = deployment.write_outputs(tmp_path / "outputs.json")
    junit = tmp_path / "smoke.xml"
    result = CliRunner().invoke(
        app, ["smoke", "--outputs", str(outputs), "--junit", str(junit)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "function submit-bid refuses a missing JWT" in result.output
    assert "bidding: two fresh users read no rows of public.bids" in result.output
    assert "ok   database advisors: no ERROR findings" in result.output
    assert "ok   database advisors: no WARN findings" in result.output
    # bidding's guide checks, from its manifest's verify: section
    for name in (
        "the guide's five tables exist",
        "the three jobs are scheduled",
        "a signed-in user who takes part nowhere sees no session",
        "set-auto-bid refuses the anon key (the guide's curl)",
        "submit-bid checks a signed-in user's input",
        "session-cleanup answers the job secret",
    ):
        assert f"ok   bidding verify: {name}" in result.output, result.output
    assert "ok   monitoring verify: the API roles cannot read the invocation records" in (
        result.output
    )
    assert 'failures="0"' in junit.read_text()
    assert fresh.credentials.db_password not in result.output


def test_the_pytest_smoke_suite_passes_on_the_deployed_stack(
    deployment: Deployment, tmp_path: Path
) -> None:
    outputs = deployment.write_outputs(tmp_path / "outputs.json")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/smoke"],
        cwd=PROJECT_DIR,
        env={**os.environ, "SUPASTACK_OUTPUTS": str(outputs)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "9 passed" in result.stdout
