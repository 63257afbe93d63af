"""The deployed billing app the package's tests share, and what they build requests with."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import wait_until
from tests.e2e.conftest import DeployedApp
from tests.e2e.resend_fake import FakeResend
from tests.e2e.stripe_fake import FakeStripe, signature

WEBHOOK_SECRET = "whsec_" + uuid.uuid4().hex
DENIED = "42501"


@dataclass
class Stack(DeployedApp):
    stripe: FakeStripe
    resend: FakeResend

    def service(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.services.credentials.secret_key}"}

    def deliver(self, event: dict[str, Any], *, timestamp: int | None = None,
                header: str | None = None) -> httpx.Response:  # fmt: skip
        payload = json.dumps(event)
        signed = header or signature(payload, WEBHOOK_SECRET, timestamp or int(time.time()))
        return httpx.post(f"{self.url}/webhook-handler", content=payload, timeout=30,
                          headers={"Stripe-Signature": signed,
                                   "Content-Type": "application/json"})  # fmt: skip

    def as_service(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to a function with the service key; its 200 answer."""
        answer = httpx.post(f"{self.url}/{slug}", json=body, headers=self.service(), timeout=30)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def quote(self, headers: dict[str, str], items: object, key: str | None = None,
              ) -> httpx.Response:  # fmt: skip
        keyed = {**headers, "Idempotency-Key": key or str(uuid.uuid4())}
        return httpx.post(f"{self.url}/quote-processor", json={"items": items}, headers=keyed,
                          timeout=30)  # fmt: skip

    def forget_failures(self, function: str, since: object) -> None:
        """Delete the 5xx answers a test provoked on purpose (``since``: the database's now()
        before it), once the middleware has written them (it writes in batches): else
        billing-error-rate would fire for the package's other tests, whichever run after."""
        wait_until(lambda: self.rows(
            "delete from monitoring.function_invocations where function_name = %s "
            "and status >= 500 and invoked_at >= %s returning 1", function, since))  # fmt: skip

    def process(self) -> dict[str, int]:
        answer = httpx.post(f"{self.url}/batch-processor", json={}, headers=self.job(),
                            timeout=60)  # fmt: skip
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def schedule_processor(stack: Stack, *, active: bool) -> None:
    stack.rows("select cron.alter_job(jobid, active => %s) from cron.job "
               "where jobname = 'billing-batch-processor'", active)  # fmt: skip


def subscription_event(
    kind: str = "customer.subscription.updated", *, status: str = "active",
    user: str | None = None, sub: str | None = None, created: int | None = None,
    customer: str | None = "cus_test",
) -> dict[str, Any]:  # fmt: skip
    obj: dict[str, Any] = {
        "id": sub or f"sub_{uuid.uuid4().hex[:14]}", "object": "subscription", "status": status,
        "current_period_end": int(time.time()) + 30 * 86400, "cancel_at_period_end": False,
        "items": {"data": [{"price": {"id": "price_pro"}}]},
        "metadata": {"user_id": user or str(uuid.uuid4())},
    }  # fmt: skip
    if customer is not None:
        obj["customer"] = customer
    return {"id": f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": kind,
            "created": created or int(time.time()), "livemode": False,
            "data": {"object": obj}}  # fmt: skip
