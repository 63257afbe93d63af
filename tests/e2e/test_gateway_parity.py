"""The function gateway as Supabase's client sees it: a deployed local stack driven through
`@supabase/supabase-js` (`functions.invoke`) with every kind of credential a project has, and
a browser's CORS preflight, against Supabase's documented answers."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from applier.engine import deploy
from supastack.local import system
from supastack.local.credentials import sign_jwt
from supastack.local.paths import DENO_DIR
from supastack.local.system import DENO_BIN
from tests.conftest import Services
from tests.e2e.conftest import local_config

ORIGIN = "https://app.example"
CLIENT = Path(__file__).parent / "supabase_js"
#: A function that answers each kind of caller differently (personalized's `user-archetype`):
#: a user gets their archetype, the service is asked whose, anyone else is refused.
FUNCTION = "user-archetype"


@pytest.fixture(scope="module")
def stack(fresh: Services) -> Iterator[Services]:
    config = local_config(fresh, apps=["personalized"], secretValues={"ALLOWED_ORIGINS": ORIGIN})
    deploy(config)
    yield fresh


def _invoke(stack: Services, cases: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Each case through supabase-js; its status and body by name."""
    env = {
        "PATH": os.environ["PATH"], "HOME": str(stack.env.state_dir), "DENO_DIR": str(DENO_DIR),
        "NO_COLOR": "1", "SUPABASE_URL": stack.runtime_url, "FUNCTION": FUNCTION,
        "CASES": json.dumps(cases),
        **system.network_env(),  # supabase-js is fetched from npm on a clean machine
    }  # fmt: skip
    ran = subprocess.run(
        [str(DENO_BIN), "run", "--frozen", f"--lock={CLIENT / 'deno.lock'}",
         f"--config={CLIENT / 'deno.json'}", "--allow-net", "--allow-env",
         str(CLIENT / "client.ts")],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    return {r["name"]: r for r in json.loads(ran.stdout.strip().splitlines()[-1])}


def test_every_credential_gets_supabases_answer_through_supabase_js(stack: Services) -> None:
    creds = stack.credentials
    user = str(uuid.uuid4())
    claims = {"role": "authenticated", "sub": user, "aud": "authenticated"}
    answers = _invoke(stack, [
        {"name": "user, ES256 signing key", "key": creds.publishable_key,
         "token": creds.user_token(claims)},
        {"name": "user, legacy HS256", "key": creds.anon_key,
         "token": sign_jwt(creds.jwt_secret, claims)},
        {"name": "anon key", "key": creds.anon_key},
        {"name": "publishable key", "key": creds.publishable_key},
        {"name": "service role key", "key": creds.service_role_key},
        {"name": "secret key", "key": creds.secret_key},
        {"name": "forged user token", "key": creds.publishable_key,
         "token": sign_jwt("not-the-project-secret" * 2, claims)},
    ])  # fmt: skip
    for kind in ("user, ES256 signing key", "user, legacy HS256"):
        assert answers[kind]["status"] == 200, answers[kind]
        assert answers[kind]["body"]["userId"] == user
    for kind in ("anon key", "publishable key"):  # anonymous: the function refuses, itself
        assert (answers[kind]["status"], answers[kind]["body"]["error"]["code"]) == (
            401, "UNAUTHORIZED")  # fmt: skip
    for kind in ("service role key", "secret key"):  # the service: asked whose archetype
        assert answers[kind]["status"] == 422, answers[kind]
        assert answers[kind]["body"]["error"]["message"] == "userId: required"
    forged = answers["forged user token"]  # the gateway refuses it before the function runs
    assert (forged["status"], forged["body"]) == (401, {"code": "UNAUTHORIZED_INVALID_JWT_FORMAT",
                                                        "message": "Invalid JWT"})  # fmt: skip


def test_a_browser_preflight_is_answered_from_the_stacks_origins(stack: Services) -> None:
    url = f"{stack.runtime_url}/functions/v1/{FUNCTION}"
    asked = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, x-client-info, apikey, content-type",
    }
    allowed = httpx.options(url, headers={"Origin": ORIGIN, **asked})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    wanted = {h.strip() for h in asked["Access-Control-Request-Headers"].split(",")}
    granted = {h.strip() for h in allowed.headers["access-control-allow-headers"].split(",")}
    assert wanted <= granted
    assert "GET" in allowed.headers["access-control-allow-methods"]
    other = httpx.options(url, headers={"Origin": "https://evil.example", **asked})
    assert other.status_code == 204 and "access-control-allow-origin" not in other.headers
    # the request that follows carries credentials and CORS headers on its answer too
    token = stack.credentials.user_token({"role": "authenticated", "sub": str(uuid.uuid4())})
    real = httpx.get(url, headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"})
    assert real.status_code == 200 and real.headers["access-control-allow-origin"] == ORIGIN
