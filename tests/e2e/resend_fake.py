"""Resend, as far as the billing app uses it, on 127.0.0.1: ``POST /emails`` answers an id
(the same one again for a repeated ``Idempotency-Key``, as Resend does) and keeps what was
sent; ``fail`` answers Resend's error shape."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from tests.conftest import JsonHandler, LocalServer


class FakeResend(LocalServer):
    def __init__(self) -> None:
        self.sent: dict[str, dict[str, Any]] = {}
        """Messages by the id answered (one per idempotency key)."""
        self.keys: dict[str, str] = {}
        self.fail = False
        fake = self
        lock = threading.Lock()

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.json_body())
                with lock:
                    if fake.fail or self.path != "/emails":
                        self.answer(500, {"name": "application_error", "message": "down",
                                           "statusCode": 500})  # fmt: skip
                        return
                    key = self.headers.get("Idempotency-Key") or str(uuid.uuid4())
                    if key not in fake.keys:
                        fake.keys[key] = str(uuid.uuid4())
                        fake.sent[fake.keys[key]] = {**body, "authorization":
                                                     self.headers.get("Authorization")}  # fmt: skip
                self.answer(200, {"id": fake.keys[key]})

        super().__init__(Handler)
