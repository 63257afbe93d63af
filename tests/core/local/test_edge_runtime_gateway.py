"""The local edge runtime's gateway and serving: routing, JWT and API-key checks, CORS, the
caller's address, methods, log lines, restarts and the gateway's timeout."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable

import httpx
import jwt as pyjwt
import pytest

from supastack.local import system
from supastack.local.credentials import new_signing_key, sign_jwt, sign_with_key
from tests.conftest import Services, wait_until
from tests.core.local.edge_runtime_client import HELLO, deploy, invoke, slug


def test_unknown_function_is_404_json(services: Services) -> None:
    response = invoke(services, "nope")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("raw", ["%E0", "%", "a%2"])
def test_slug_that_does_not_decode_is_404_json(services: Services, raw: str) -> None:
    response = invoke(services, raw)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_unknown_path_is_404_json(services: Services) -> None:
    response = httpx.get(f"{services.runtime_url}/elsewhere")
    assert response.status_code == 404 and response.json() == {"message": "Not found"}


def test_deployed_function_answers_with_path_query_body_and_env(services: Services) -> None:
    name = slug()
    deployed = deploy(services, name, {"index.ts": HELLO % "v1"})
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["version"] == 1 and deployed.json()["status"] == "ACTIVE"
    response = invoke(services, name, "/sub/path", method="POST", params={"q": "1"}, content="hi")
    assert response.status_code == 200
    body = response.json()
    assert body["hello"] == "v1"
    assert (body["path"], body["query"], body["method"], body["body"]) == (
        f"/{name}/sub/path",
        "1",
        "POST",
        "hi",
    )
    assert body["env"] == [
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "SUPABASE_DB_URL",
    ]


def test_functions_import_local_files(services: Services) -> None:
    name = slug()
    files = {
        "fn/index.ts": 'import { word } from "../_shared/word.ts";\n'
        "Deno.serve(() => new Response(word));",
        "_shared/word.ts": 'export const word = "shared";',
    }
    assert deploy(services, name, files, entrypoint="fn/index.ts").status_code == 201
    assert invoke(services, name).text == "shared"


def test_verify_jwt_refuses_missing_and_bad_tokens(services: Services) -> None:
    name = slug()
    assert deploy(services, name, {"index.ts": HELLO % "x"}, verify_jwt=True).status_code == 201
    creds = services.credentials
    missing = invoke(services, name)
    bad = invoke(services, name, headers={"Authorization": "Bearer not-a-jwt"})
    forged = invoke(
        services,
        name,
        headers={"Authorization": "Bearer " + sign_jwt("another-secret" * 3, {"role": "anon"})},
    )
    expired = invoke(
        services,
        name,
        headers={
            "Authorization": "Bearer " + sign_jwt(creds.jwt_secret, {"role": "anon", "exp": 1000})
        },
    )
    for response in (missing, bad, forged, expired):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/json"
    assert missing.json()["message"] == "Missing authorization header"
    assert expired.json()["message"] == "JWT expired"
    for key in (creds.anon_key, creds.service_role_key):
        ok = invoke(services, name, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200


def _behind_the_gateway(services: Services) -> Callable[[str], int]:
    """A new function with ``verify_jwt``, and the status it answers a bearer token with."""
    name = slug()
    assert deploy(services, name, {"index.ts": HELLO % "x"}, verify_jwt=True).status_code == 201
    return lambda token: (
        invoke(services, name, headers={"Authorization": f"Bearer {token}"}).status_code
    )


def test_the_gateway_verifies_user_tokens_by_their_alg_hs256_or_the_signing_keys(
    services: Services,
) -> None:
    status = _behind_the_gateway(services)
    creds = services.credentials
    user = {"role": "authenticated", "sub": str(uuid.uuid4())}
    assert status(creds.user_token(user)) == 200  # ES256, the project's signing key
    assert status(sign_jwt(creds.jwt_secret, user)) == 200  # HS256, the legacy secret
    assert status(sign_with_key(new_signing_key(), user)) == 401  # a key the project never had
    assert status(creds.user_token(user, lifetime_s=-10)) == 401  # expired
    unsigned = pyjwt.encode(user, key="", algorithm="none")
    assert status(unsigned) == 401
    jwks = httpx.get(f"{services.runtime_url}/auth/v1/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [json.loads(creds.signing_key)["kid"]]
    assert all("d" not in key for key in jwks["keys"])  # public halves only


def test_a_remembered_token_is_refused_once_it_expires_and_only_the_very_token_is_remembered(
    services: Services,
) -> None:
    status = _behind_the_gateway(services)
    creds = services.credentials
    user = {"role": "authenticated", "sub": str(uuid.uuid4())}
    short = creds.user_token(user, lifetime_s=2)
    assert [status(short), status(short)] == [200, 200]  # verified, then remembered
    header, payload, signature = short.split(".")
    other = "A" if signature[0] != "A" else "B"
    assert status(f"{header}.{payload}.{other}{signature[1:]}") == 401  # not the same token
    expires = pyjwt.decode(short, options={"verify_signature": False})["exp"]
    wait_until(lambda: time.time() > expires + 0.01, timeout=10, every=0.05)  # the clock, no event
    assert status(short) == 401


def test_the_gateway_takes_the_new_api_keys_as_bearer_or_apikey(services: Services) -> None:
    name = slug()
    assert deploy(services, name, {"index.ts": HELLO % "x"}, verify_jwt=True).status_code == 201
    creds = services.credentials
    for key in (creds.publishable_key, creds.secret_key):
        assert invoke(services, name, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert invoke(services, name, headers={"apikey": key}).status_code == 200
    for guess in (f"sb_secret_{'x' * 32}", creds.secret_key[:-1]):
        assert invoke(services, name, headers={"apikey": guess}).status_code == 401
    env = invoke(services, slug_with_env(services)).json()
    assert json.loads(env["SUPABASE_SECRET_KEYS"]) == {"default": creds.secret_key}
    assert json.loads(env["SUPABASE_PUBLISHABLE_KEYS"]) == {"default": creds.publishable_key}
    assert (
        json.loads(env["SUPABASE_JWKS"])["keys"][0]["kid"] == json.loads(creds.signing_key)["kid"]
    )


def slug_with_env(services: Services) -> str:
    """A function answering the new keys' variables as the runtime gives them."""
    name = slug()
    source = (
        "Deno.serve(() => Response.json(Object.fromEntries(['SUPABASE_SECRET_KEYS', "
        "'SUPABASE_PUBLISHABLE_KEYS', 'SUPABASE_JWKS'].map((k) => [k, Deno.env.get(k)]))));"
    )
    assert deploy(services, name, {"index.ts": source}).status_code == 201
    return name


def test_a_cors_preflight_reaches_the_function_without_credentials(services: Services) -> None:
    name = slug()
    assert deploy(services, name, {"index.ts": HELLO % "x"}, verify_jwt=True).status_code == 201
    preflight = invoke(services, name, method="OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, x-client-info, apikey, content-type",
    })  # fmt: skip
    assert preflight.status_code == 200 and preflight.json()["method"] == "OPTIONS"
    assert invoke(services, name, method="POST").status_code == 401  # the request itself is not


def test_the_address_a_function_sees_is_the_connections_not_the_callers_claim(
    services: Services,
) -> None:
    """x-real-ip is the peer the runtime saw, as Supabase's gateway gives it: a client's own
    X-Real-IP is overwritten (the limits of anonymous callers count it), however the function
    reads the headers: asked for, iterated, passed on, or after changing them."""
    name = slug()
    source = """Deno.serve((req) => Response.json({
      ip: req.headers.get("X-Real-IP"),
      has: req.headers.has("x-real-ip"),
      listed: Object.fromEntries(req.headers)["x-real-ip"],
      passed: new Headers(req.headers).get("x-real-ip"),
      set: (req.headers.set("x-extra", "1"), req.headers.get("x-extra")),
      after: req.headers.get("x-real-ip"),
      forwarded: req.headers.get("x-forwarded-for"),
    }));
    """
    assert deploy(services, name, {"index.ts": source}).status_code == 201
    claimed = {"X-Real-IP": "203.0.113.9", "X-Forwarded-For": "203.0.113.9"}
    assert invoke(services, name, headers=claimed).json() == {
        "ip": "127.0.0.1", "has": True, "listed": "127.0.0.1", "passed": "127.0.0.1",
        "set": "1", "after": "127.0.0.1", "forwarded": "203.0.113.9",
    }  # fmt: skip


@pytest.mark.parametrize("method", ["TRACE", "TRACK"])
def test_methods_no_function_is_given_are_405(services: Services, method: str) -> None:
    name = slug()
    assert deploy(services, name, {"index.ts": "Deno.serve(() => new Response('x'));\n"}
                  ).status_code == 201  # fmt: skip
    answer = invoke(services, name, method=method)
    assert (answer.status_code, answer.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_each_invocation_writes_one_json_log_line(services: Services) -> None:
    name = slug()
    deploy(services, name, {"index.ts": HELLO % "log"})
    invoke(services, name)
    invoke(services, name, "/missing-jwt-is-fine-here")
    log = services.env.paths.runtime_state / "logs" / "functions.jsonl"

    def entries() -> list[dict[str, object]]:
        found = [json.loads(line) for line in log.read_text().splitlines()]
        mine = [e for e in found if e.get("function") == name]
        return mine if len(mine) == 2 else []

    first, second = wait_until(entries)
    assert (first["status"], first["event"], first["level"], first["version"]) == (
        200,
        "invocation",
        "info",
        1,
    )
    assert second["path"] == f"/functions/v1/{name}/missing-jwt-is-fine-here"
    assert first["request_id"] != second["request_id"]
    assert isinstance(first["duration_ms"], float | int)


def test_functions_survive_a_runtime_restart(services: Services) -> None:
    name = slug()
    deploy(services, name, {"index.ts": HELLO % "persisted"})
    runtime = services.env.runtime(services.credentials)
    runtime.stop()
    runtime.start(system.ensure_deno())
    assert invoke(services, name).json()["hello"] == "persisted"


def test_a_function_that_never_answers_gets_the_gateways_504(services: Services) -> None:
    """Supabase's request idle timeout (150 s), here shortened to 1 s for the test: never
    before it, and a function answering within it is not cut off."""
    name, slow = slug(), slug()
    hanging = "Deno.serve(() => new Promise<Response>(() => {}));"
    assert deploy(services, name, {"index.ts": hanging}).status_code == 201
    # the function's own slowness (a third of the timeout), not a wait for anything
    late = (
        "Deno.serve(async () => { await new Promise((r) => setTimeout(r, 300)); "
        "return new Response('late'); });"
    )
    assert deploy(services, slow, {"index.ts": late}).status_code == 201
    runtime = services.env.runtime(services.credentials)
    runtime.stop()
    impatient = dataclasses.replace(runtime, request_idle_timeout_s=1)
    impatient.start(system.ensure_deno())
    try:
        answer = invoke(services, name)
        assert (answer.status_code, answer.json()) == (
            504, {"code": "REQUEST_IDLE_TIMEOUT", "message": "Request idle timeout"})  # fmt: skip
        assert answer.elapsed.total_seconds() >= 1
        served = invoke(services, slow)
        assert (served.status_code, served.text) == (200, "late")
        assert invoke(services, "nope").status_code == 404  # the runtime serves on
    finally:
        impatient.stop()
        runtime.start(system.ensure_deno())
