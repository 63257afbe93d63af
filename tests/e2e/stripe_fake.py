"""Stripe, as far as the events and billing apps use it, on 127.0.0.1: PaymentIntents are
created with the shape Stripe documents (honouring the Idempotency-Key header, as Stripe
does), and webhook signatures are made by Stripe's own SDK
(``stripe.webhooks.generateTestHeaderString``, the same npm package the function verifies
with)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import uuid
from urllib.parse import parse_qs

from supastack.local.paths import DENO_DIR, PROJECT_DIR
from supastack.local.system import ensure_deno
from tests.conftest import JsonHandler, LocalServer

#: The SDK the functions pin (functions/events/deno.json and deno.lock).
STRIPE_NPM = "npm:stripe@17.7.0"


class FakeStripe(LocalServer):
    """``POST /v1/payment_intents``: a PaymentIntent, the same one again for a repeated key;
    ``GET /v1/subscriptions/<id>``: a subscription from :attr:`subscriptions`, else Stripe's
    404 (``resource_missing``)."""

    def __init__(self) -> None:
        self.created: dict[str, dict[str, object]] = {}
        self.subscriptions: dict[str, dict[str, object]] = {}
        self.reads: list[str] = []
        self.requests: list[dict[str, list[str]]] = []
        self.fail = False
        """Answer 500 (Stripe unreachable as far as the caller can tell)."""
        fake = self
        lock = threading.Lock()

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.json_body().decode())
                key = self.headers.get("Idempotency-Key") or str(uuid.uuid4())
                with lock:
                    fake.requests.append(form)
                    if fake.fail or self.path != "/v1/payment_intents":
                        self.answer(500, {"error": {"type": "api_error", "message": "down"}})
                        return
                    intent = fake.created.setdefault(key, {
                        "id": f"pi_{uuid.uuid4().hex[:24]}", "object": "payment_intent",
                        "amount": int(form["amount"][0]), "currency": form["currency"][0],
                        "status": "requires_payment_method",
                        "metadata": {k[9:-1]: v[0] for k, v in form.items()
                                     if k.startswith("metadata[")},
                    })  # fmt: skip
                    intent["client_secret"] = f"{intent['id']}_secret_test"
                self.answer(200, intent)

            def do_GET(self) -> None:
                with lock:
                    fake.reads.append(self.path)
                    sub = fake.subscriptions.get(self.path.removeprefix("/v1/subscriptions/"))
                    if fake.fail:
                        self.answer(500, {"error": {"type": "api_error", "message": "down"}})
                    elif sub is None:
                        missing = {"type": "invalid_request_error", "code": "resource_missing",
                                   "message": "No such subscription"}  # fmt: skip
                        self.answer(404, {"error": missing})
                    else:
                        self.answer(200, sub)

        super().__init__(Handler)


_SIGN = f"""
import Stripe from "{STRIPE_NPM}";
const stripe = new Stripe("sk_test_unused");
const [payload, secret, timestamp] = JSON.parse(await new Response(Deno.stdin.readable).text());
const header = await stripe.webhooks.generateTestHeaderStringAsync({{
  payload, secret, timestamp, cryptoProvider: Stripe.createSubtleCryptoProvider(),
}});
console.log(header);
"""


def signature(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header Stripe would send for ``payload`` at ``timestamp``."""
    config = PROJECT_DIR / "functions" / "events" / "deno.json"
    result = subprocess.run(
        [str(ensure_deno()), "eval", "--config", str(config), "--lock",
         str(config.with_name("deno.lock")), "--frozen", _SIGN],
        input=json.dumps([payload, secret, timestamp]),
        capture_output=True, text=True, check=True, timeout=120,
        env={**os.environ, "DENO_DIR": str(DENO_DIR), "NO_COLOR": "1"},
    )  # fmt: skip
    return result.stdout.strip()
