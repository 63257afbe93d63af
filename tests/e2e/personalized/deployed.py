"""The deployed app the package's tests share, its synthetic users, and days counted from the
database's today."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx

from supastack.local.credentials import sign_jwt
from tests.clock import DatabaseClock
from tests.conftest import Services
from tests.e2e.conftest import DeployedApp, local_config

FLAG = "pattern_1_personalized_defaults"
DENIED = "42501"


class Stack(DeployedApp):
    def token(self, user: str, admin: bool = False) -> dict[str, str]:
        claims: dict[str, object] = {"role": "authenticated", "sub": user}
        if admin:
            claims["app_metadata"] = {"role": "admin"}
        return {"Authorization": f"Bearer {sign_jwt(self.services.credentials.jwt_secret, claims)}"}

    def call(self, user: str, statement: str, *params: object, admin: bool = False) -> Any:
        """An RPC as the signed-in user (as PostgREST makes it), committed; its value."""
        claims: dict[str, object] = {"role": "authenticated", "sub": user}
        if admin:
            claims["app_metadata"] = {"role": "admin"}
        with self.services.connect() as conn, conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            row = conn.execute(statement.encode(), params or None).fetchone()
        return row[0] if row else None

    def day(self, n: int) -> dt.date:
        """``n`` days after the database's today, the date its SQL counts notice from (the test
        process's own date may differ: the tests move the database's clock)."""
        return DatabaseClock.today(self.services.dsn()) + dt.timedelta(days=n)

    def recommend(self, user: str, **params: str) -> httpx.Response:
        asked = {"targetDate": self.day(10).isoformat(), "roommateId": str(uuid.uuid4()), **params}
        return httpx.get(f"{self.url}/transaction-recommendations", params=asked,
                         headers=self.token(user), timeout=30)  # fmt: skip


def weekday_ahead(stack: Stack, start: int) -> dt.date:
    """The first Monday to Thursday at least ``start`` days ahead."""
    day = stack.day(start)
    while day.isoweekday() > 4:
        day += dt.timedelta(days=1)
    return day


def weekend_ahead(stack: Stack, start: int) -> dt.date:
    """The first Saturday or Sunday at least ``start`` days ahead."""
    day = stack.day(start)
    while day.isoweekday() < 6:
        day += dt.timedelta(days=1)
    return day


def short_notice_weekday(stack: Stack) -> dt.date:
    """A weekday at most two days ahead (short notice): tomorrow, the day after, or today
    (on a Friday, the weekend is next)."""
    return next(d for d in (stack.day(1), stack.day(2), stack.day(0)) if d.isoweekday() < 6)


def config_with_flag(services: Services, **flag: object) -> dict[str, str]:
    return local_config(services, apps=["personalized"],
                        flags={FLAG: {"enabled": True, "percentage": 100, **flag}})  # fmt: skip


def synthetic_user(stack: Stack, archetype: str, nth: int = 0) -> tuple[str, str]:
    """A synthetic user of the archetype (the ``nth`` one) and their roommate."""
    user, roommate = stack.rows(
        "select a.user_id::text, r.roommate_id::text from personalized.user_archetypes a "
        "join personalized.users u using (user_id) join personalized.roommates r using (user_id) "
        "where u.synthetic and a.archetype_type = %s order by a.user_id limit 1 offset %s",
        archetype,
        nth,
    )[0]
    return str(user), str(roommate)
