"""One deployment of the billing app for the whole package."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from applier.engine import deploy
from tests.conftest import Services
from tests.e2e.billing.deployed import (
    WEBHOOK_SECRET,
    Stack,
    schedule_processor,
)
from tests.e2e.conftest import local_config, package_target
from tests.e2e.providers import local_providers

fresh = package_target()


@pytest.fixture(scope="package")
def stack(fresh: Services) -> Iterator[Stack]:
    with local_providers(WEBHOOK_SECRET, "re_" + uuid.uuid4().hex) as providers:
        flags = {"billing_subscription_cache": {"enabled": True, "percentage": 100}}
        config = local_config(fresh, apps=["billing"], secretValues=providers.secrets,
                              flags=flags)  # fmt: skip
        stack = Stack(fresh, deploy(config), providers.stripe, providers.resend)
        # The tests run the processor themselves, each step when they say: pg_cron's own run
        # (every minute) is paused meanwhile, and runs only during the smoke tests.
        schedule_processor(stack, active=False)
        yield stack
