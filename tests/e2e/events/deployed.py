"""The deployed events app the package's tests share, a studio's events, and bookings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from supastack.local.credentials import sign_jwt
from tests.conftest import Services
from tests.e2e.resend_fake import FakeResend
from tests.e2e.stripe_fake import FakeStripe

WEBHOOK_SECRET = "whsec_" + uuid.uuid4().hex
RESEND_KEY = "re_" + uuid.uuid4().hex
DENIED = "42501"


@dataclass
class Stack:
    services: Services
    stripe: FakeStripe
    email: FakeResend

    @property
    def url(self) -> str:
        return f"{self.services.runtime_url}/functions/v1"

    def token(self, user: str, **claims: object) -> dict[str, str]:
        signed = sign_jwt(
            self.services.credentials.jwt_secret, {"role": "authenticated", "sub": user, **claims}
        )
        return {"Authorization": f"Bearer {signed}"}

    def scalar(self, query: str, *params: object) -> Any:
        with self.services.connect() as conn:
            row = conn.execute(query.encode(), params or None).fetchone()
        return row[0] if row else None


@dataclass(frozen=True)
class Studio:
    org: str
    other_org: str
    staff: str
    other_staff: str
    free_event: str
    paid_event: str


def new_event(stack: Stack, org: str, *, capacity: int, price: int = 0, days: int = 3) -> str:
    return str(stack.scalar(
        "insert into events.class_events (org_id, title, starts_at, ends_at, capacity, "
        "price_cents) values (%s, 'class', now() + make_interval(days => %s), "
        "now() + make_interval(days => %s, hours => 1), %s, %s) returning id",
        org, days, days, capacity, price,
    ))  # fmt: skip


def book_as(
    stack: Stack, user: str, event: str, key: str | None = None, method: str = "none"
) -> httpx.Response:
    headers = {**stack.token(user), "Idempotency-Key": key or str(uuid.uuid4())}
    return httpx.post(
        f"{stack.url}/book",
        headers=headers,
        json={"eventId": event, "paymentMethod": method},
        timeout=60,
    )


def registrations_of(stack: Stack, event: str) -> tuple[int, int, int]:
    """(confirmed registrations, waitlisted, the event's reg_count)."""
    with stack.services.connect() as conn:
        row = conn.execute(
            "select count(*) filter (where r.status = 'confirmed'), "
            "count(*) filter (where r.status = 'waitlisted'), "
            "(select reg_count from events.class_events where id = %s) "
            "from events.registrations r where r.event_id = %s",
            [event, event],
        ).fetchone()
    assert row is not None
    confirmed, waitlisted, reg_count = (int(str(value)) for value in row)
    return confirmed, waitlisted, reg_count
