"""The smoke tests as a pytest suite, for a deployed stack:

    pulumi stack output --json --show-secrets --stack staging > outputs.json
    SUPASTACK_OUTPUTS=outputs.json .venv/bin/pytest tests/smoke --junitxml smoke.xml

(`supastack smoke` runs the same checks.) Not part of the default test run: it needs a
deployed stack, which the e2e tests create and check themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supastack.delivery.outputs import load
from supastack.delivery.smoke import Check, run

OUTPUTS = os.environ.get("SUPASTACK_OUTPUTS")


@pytest.fixture(scope="module")
def results() -> list[Check]:
    if not OUTPUTS:
        pytest.skip("set SUPASTACK_OUTPUTS to a `pulumi stack output --json --show-secrets` file")
    return run(load(Path(OUTPUTS)))


@pytest.mark.parametrize(
    "group",
    [
        "database",
        "migration",
        "RLS",
        "function",
        "cron job",
        "alert",
        "secret",
        "advisors",
        "verify",
    ],
)
def test_smoke(results: list[Check], group: str) -> None:
    failed = [f"{r.name}: {r.detail}" for r in results if group in r.name and not r.ok]
    assert not failed, "\n".join(failed)
