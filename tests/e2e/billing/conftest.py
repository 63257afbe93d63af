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
from tests.e2e.resend_fake import FakeResend
from tests.e2e.stripe_fake import FakeStripe

fresh = package_target()


@pytest.fixture(scope="package")
def stack(fresh: Services) -> Iterator[Stack]:
    stripe, resend = FakeStripe(), FakeResend()
    secrets = {"STRIPE_SECRET_KEY": "sk_test_" + uuid.uuid4().hex,
               "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": stripe.url,
               "RESEND_API_KEY": "re_" + uuid.uuid4().hex,
               "RESEND_BASE_URL": resend.url}  # fmt: skip
    flags = {"billing_subscription_cache": {"enabled": True, "percentage": 100}}
    config = local_config(fresh, apps=["billing"], secretValues=secrets, flags=flags)
    stack = Stack(fresh, deploy(config), stripe, resend)
    # The tests run the processor themselves, each step when they say: pg_cron's own run
    # (every minute) is paused meanwhile, and runs only during the smoke tests.
    schedule_processor(stack, active=False)
    yield stack
    stripe.close()
    resend.close()
