"""Per-app verification as code: the ``verify:`` section of an app manifest.

A deployment guide ends with "check that…" steps: queries to paste, curls to send. Here they
are declared with the app and run by ``supastack smoke`` after the generic checks, reported per
app in its table and JUnit:

- ``sql``: a query (one SELECT) run as a role (``postgres``, ``service_role``, ``anon``, or
  ``authenticated`` as a fresh user), with what it must return: exactly ``rows``, a ``count``
  of rows, a single value of at least ``min``, ``empty``, or ``denied`` (refused, 42501).
- ``http``: a request to one of the app's functions as a caller (``none``, ``anon`` with the
  anon key, ``user`` signed in as a fresh user, ``service`` with the service-role key, ``job``
  with the job secret from Vault), with the status and the JSON keys the answer must have.
  ``{today}`` and ``{today+N}`` in its path are dates (ISO) counted from the stack's own
  today (its database's ``current_date``, which the app's SQL counts from too), so a probe that
  needs a date in the future stays valid whatever the day and wherever smoke runs.

The program exports the sections in the stack outputs, so smoke needs nothing but them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import psycopg.sql

from supastack.delivery.specs import HttpExpect, HttpProbe, SqlCheck
from supastack.local.credentials import sign_jwt, sign_with_key

#: What a verification step found: (name, ok, detail).
Result = tuple[str, bool, str]


def act_as(conn: psycopg.Connection[Any], role: str, user: str | None = None) -> None:
    """For the rest of the transaction, be ``role`` as PostgREST makes a request (the role and
    the JWT claims, with ``user`` as ``sub``)."""
    conn.execute(psycopg.sql.SQL("SET LOCAL ROLE {}").format(psycopg.sql.Identifier(role)))
    claims = {"role": role, **({"sub": user} if user else {})}
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])


def run_sql(database_url: str, checks: list[SqlCheck]) -> Iterator[Result]:
    """Each check in a transaction of its own, rolled back (nothing a check does stays)."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        for check in checks:
            try:
                with conn.transaction(force_rollback=True):
                    if check.role != "postgres":
                        conn.execute(
                            psycopg.sql.SQL("SET LOCAL ROLE {}").format(
                                psycopg.sql.Identifier(check.role)
                            )
                        )
                        claims = {"role": check.role, "sub": str(uuid.uuid4())}
                        conn.execute(
                            "SELECT set_config('request.jwt.claims', %s, true)",
                            [json.dumps(claims)],
                        )
                    rows = conn.execute(check.query.encode()).fetchall()
            except psycopg.Error as exc:
                refused = bool(check.expect.denied) and exc.sqlstate == "42501"
                yield (
                    check.name,
                    refused,
                    "" if refused else f"{exc.sqlstate}: {exc.diag.message_primary}",
                )
                continue
            problem = check.expect.failure(rows)
            yield check.name, problem is None, problem or ""


def stack_today(database_url: str) -> dt.date:
    """The stack's today: its database's ``current_date`` (in the database's time zone);
    ``database_url``: a URL or a libpq connection string."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("select current_date").fetchone()
    assert row is not None
    today: dt.date = row[0]
    return today


def run_http(
    functions_url: str,
    probes: list[HttpProbe],
    credentials: dict[str, str | None],
    today: dt.date,
) -> Iterator[Result]:
    """Each probe with its caller's credentials (``credentials`` by caller; None: not known);
    ``today``: the stack's (``stack_today``), which ``{today}`` in a path means."""
    with httpx.Client(timeout=15.0) as client:
        for probe in probes:
            headers = dict(probe.headers)
            if probe.caller != "none":
                token = credentials.get(probe.caller)
                if token is None:
                    yield probe.name, False, f"no credentials for a {probe.caller} caller"
                    continue
                headers["Authorization"] = f"Bearer {token}"
            path = probe.resolved_path(today)
            url = f"{functions_url}/functions/v1/{probe.function}{path}"
            try:
                answer = client.request(
                    probe.method,
                    url,
                    headers=headers,
                    json=probe.body if probe.method != "GET" else None,
                )
            except httpx.HTTPError as exc:
                yield probe.name, False, f"{type(exc).__name__}: {exc}"
                continue
            yield probe.name, *_answer_problem(answer, probe.expect)


def _answer_problem(answer: httpx.Response, expect: HttpExpect) -> tuple[bool, str]:
    if answer.status_code != expect.status:
        return False, f"HTTP {answer.status_code}: {answer.text[:200]}"
    if not expect.keys:
        return True, ""
    try:
        body = answer.json()
    except ValueError:
        return False, "the answer is not JSON"
    missing = [k for k in expect.keys if not isinstance(body, dict) or k not in body]
    return (not missing), (f"missing keys {missing}" if missing else "")


def user_token(
    *, signing_key: str | None, jwt_secret: str | None, lifetime_s: int = 300
) -> str | None:
    """A short-lived token for a fresh signed-in user (role authenticated): signed with the
    signing key (ES256) where the stack gives one, else with the legacy secret (HS256); None
    when it gives neither (the ``user`` probes then fail, saying so)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "role": "authenticated", "sub": str(uuid.uuid4()), "aud": "authenticated",
        "iat": now, "exp": now + lifetime_s,
    }  # fmt: skip
    if signing_key:
        return sign_with_key(signing_key, claims, lifetime_s)
    if jwt_secret:
        return sign_jwt(jwt_secret, claims)
    return None
