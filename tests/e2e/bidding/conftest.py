"""One deployment for the whole package, the RLS matrix's people, and what the functions'
tests call with."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from applier.engine import deploy
from supastack.local.credentials import sign_jwt
from tests.conftest import Services
from tests.e2e.bidding.deployed import insert_bid, new_session
from tests.e2e.conftest import local_config, package_target

fresh = package_target()


@pytest.fixture(scope="package")
def stack(fresh: Services) -> Iterator[Services]:
    deploy(local_config(fresh))
    yield fresh


@pytest.fixture(scope="package")
def matrix(stack: Services) -> dict[str, str]:
    """Owner O; A and B take part in an open session and a closed one A won; C in none."""
    people = {name: str(uuid.uuid4()) for name in "OABC"}
    with stack.connect() as conn:
        open_session = new_session(conn, people["O"], [people["A"], people["B"]])
        insert_bid(conn, open_session, people["A"], 100)
        insert_bid(conn, open_session, people["B"], 110)
        won = new_session(conn, people["O"], [people["A"], people["B"]])
        insert_bid(conn, won, people["A"], 100)
        conn.execute("select public.close_session(%s)", [won])
    return {**people, "open": open_session, "won": won}


@pytest.fixture(scope="package")
def functions(stack: Services) -> dict[str, Any]:
    """A user token maker, an open and a closed session, and the job secret from Vault."""
    with stack.connect() as conn:
        job_secret = conn.execute(
            "select decrypted_secret from vault.decrypted_secrets where name = 'JOB_SECRET'"
        ).fetchone()
    assert job_secret is not None

    def token(user: str) -> dict[str, str]:
        claims: dict[str, object] = {"role": "authenticated", "sub": user}
        return {"Authorization": f"Bearer {sign_jwt(stack.credentials.jwt_secret, claims)}"}

    return {"token": token, "job": job_secret[0], "url": f"{stack.runtime_url}/functions/v1"}
