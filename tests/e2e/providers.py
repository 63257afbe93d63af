"""Stripe and Resend as the apps that take payments and send mail meet them in the e2e tests:
both faked locally (stripe_fake, resend_fake), and the function secrets that point an app at
them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.e2e.resend_fake import FakeResend
from tests.e2e.stripe_fake import FakeStripe


@dataclass(frozen=True)
class Providers:
    stripe: FakeStripe
    resend: FakeResend
    #: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE, RESEND_API_KEY, RESEND_BASE_URL
    #: (out of the repr, so an assertion's message never prints them)
    secrets: dict[str, str] = field(repr=False)


@contextmanager
def local_providers(webhook_secret: str, resend_key: str) -> Iterator[Providers]:
    """Both fakes running until the block ends; Stripe's key is a fresh test key."""
    stripe, resend = FakeStripe(), FakeResend()
    try:
        yield Providers(stripe, resend, {
            "STRIPE_SECRET_KEY": "sk_test_" + uuid.uuid4().hex,
            "STRIPE_WEBHOOK_SECRET": webhook_secret, "STRIPE_API_BASE": stripe.url,
            "RESEND_API_KEY": resend_key, "RESEND_BASE_URL": resend.url,
        })  # fmt: skip
    finally:
        stripe.close()
        resend.close()
