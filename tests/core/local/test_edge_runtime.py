"""The local edge runtime: routing, JWT checks, versions, secrets, Management API subset."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import select
import socket
import time
import uuid
from collections.abc import Callable

import httpx
import jwt as pyjwt
import pytest

from supastack.local import system
from supastack.local.credentials import new_signing_key, sign_jwt, sign_with_key
from tests.conftest import Services, wait_until

HELLO = """
Deno.serve(async (req) => {
  const url = new URL(req.url);
  return Response.json({
    hello: "%s",
    path: url.pathname,
    query: url.searchParams.get("q"),
    method: req.method,
    body: req.method === "POST" ? await req.text() : null,
    secret: Deno.env.get("GREETING") ?? null,
    env: ["SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_DB_URL"]
      .filter((k) => Deno.env.get(k)),
  });
});
"""


def slug() -> str:
    return f"fn-{uuid.uuid4().hex[:10]}"


def api(services: Services, token: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=f"{services.runtime_url}/v1/projects/{services.credentials.project_ref}",
        headers={"Authorization": f"Bearer {token or services.credentials.access_token}"},
        timeout=30,
    )


def deploy(
    services: Services,
    name: str,
    files: dict[str, str],
    verify_jwt: bool = False,
    entrypoint: str = "index.ts",
) -> httpx.Response:
    metadata = {"entrypoint_path": entrypoint, "verify_jwt": verify_jwt, "name": name}
    with api(services) as client:
        return client.post(
            "/functions/deploy",
            params={"slug": name},
            data={"metadata": json.dumps(metadata)},
            files=[
                ("file", (path, body.encode(), "application/typescript"))
                for path, body in files.items()
            ],
        )


def invoke(
    services: Services,
    name: str,
    path: str = "",
    *,
    method: str = "GET",
    params: dict[str, str] | None = None,
    content: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.request(
        method,
        f"{services.runtime_url}/functions/v1/{name}{path}",
        params=params,
        content=content,
        headers=headers,
        timeout=30,
    )


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


def test_redeploy_creates_a_new_version_and_serves_it(services: Services) -> None:
    name = slug()
    assert deploy(services, name, {"index.ts": HELLO % "one"}).json()["version"] == 1
    second = deploy(services, name, {"index.ts": HELLO % "two"}).json()
    assert second["version"] == 2
    assert invoke(services, name).json()["hello"] == "two"
    versions = services.env.paths.runtime_state / "functions" / name / "versions"
    assert sorted(p.name for p in versions.iterdir()) == ["1", "2"]


def test_content_hash_changes_with_content_only(services: Services) -> None:
    name = slug()
    first = deploy(services, name, {"index.ts": HELLO % "a"}).json()["ezbr_sha256"]
    same = deploy(services, name, {"index.ts": HELLO % "a"}).json()["ezbr_sha256"]
    other = deploy(services, name, {"index.ts": HELLO % "b"}).json()["ezbr_sha256"]
    assert first == same != other


def test_concurrent_deploys_get_distinct_versions(services: Services) -> None:
    name = slug()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda i: deploy(services, name, {"index.ts": HELLO % i}), range(6))
        )
    assert sorted(r.json()["version"] for r in results) == [1, 2, 3, 4, 5, 6]


def test_list_get_and_delete(services: Services) -> None:
    name = slug()
    deploy(services, name, {"index.ts": HELLO % "x"}, verify_jwt=True)
    with api(services) as client:
        listed = {f["slug"]: f for f in client.get("/functions").json()}
        got = client.get(f"/functions/{name}").json()
        assert listed[name] == got
        assert got["verify_jwt"] is True and got["entrypoint_path"] == "index.ts"
        assert client.delete(f"/functions/{name}").status_code == 200
        assert client.get(f"/functions/{name}").status_code == 404
        missing = client.delete(f"/functions/{name}")
    assert missing.status_code == 404 and name in missing.json()["message"]
    assert invoke(services, name).status_code == 404


def test_management_api_requires_the_access_token(services: Services) -> None:
    with api(services, token="sbp_" + "0" * 40) as client:
        response = client.get("/functions")
    assert response.status_code == 401 and response.json() == {"message": "Unauthorized"}
    no_header = httpx.get(f"{services.runtime_url}/v1/projects/local/secrets")
    assert no_header.status_code == 401


def test_management_api_knows_only_its_project(services: Services) -> None:
    response = httpx.get(
        f"{services.runtime_url}/v1/projects/someotherproject/functions",
        headers={"Authorization": f"Bearer {services.credentials.access_token}"},
    )
    assert response.status_code == 404 and "someotherproject" in response.json()["message"]


@pytest.mark.parametrize(
    ("name", "files", "entrypoint", "status", "message"),
    [
        ("9bad", {"index.ts": ""}, "index.ts", 400, "Invalid function slug '9bad'"),
        ("ok", {"../../escape.ts": ""}, "../../escape.ts", 400, "must be a relative path"),
        ("ok", {"/etc/x.ts": ""}, "/etc/x.ts", 400, "must be a relative path"),
        ("ok", {"other.ts": ""}, "index.ts", 400, "no file part uploaded for 'index.ts'"),
    ],
)
def test_bad_deploys_are_refused_naming_the_problem(
    services: Services,
    name: str,
    files: dict[str, str],
    entrypoint: str,
    *,
    status: int,
    message: str,
) -> None:
    response = deploy(services, name, files, entrypoint=entrypoint)
    assert response.status_code == status
    assert message in response.json()["message"]


def test_deploy_without_metadata_is_refused(services: Services) -> None:
    with api(services) as client:
        response = client.post(
            "/functions/deploy",
            params={"slug": "x"},
            files=[("file", ("index.ts", b"", "text/plain"))],
        )
    assert response.status_code == 400 and "metadata" in response.json()["message"]


def test_function_that_fails_to_boot_is_503_and_logged(services: Services) -> None:
    name = slug()
    deploy(services, name, {"index.ts": 'throw new Error("boom at boot");'})
    response = invoke(services, name)
    assert response.status_code == 503 and response.json()["code"] == "BOOT_ERROR"


def test_function_that_throws_is_500_and_the_runtime_survives(services: Services) -> None:
    name = slug()
    deploy(services, name, {"index.ts": 'Deno.serve(() => { throw new Error("boom"); });'})
    assert invoke(services, name).status_code == 500
    assert httpx.get(f"{services.runtime_url}/_internal/health").status_code == 200


def test_secrets_reach_functions_and_the_api_shows_only_digests(services: Services) -> None:
    name = slug()
    value = f"hello-{uuid.uuid4()}"
    deploy(services, name, {"index.ts": HELLO % "s"})
    with api(services) as client:
        created = client.post("/secrets", json=[{"name": "GREETING", "value": value}])
        assert created.status_code == 201
        listed = {s["name"]: s for s in client.get("/secrets").json()}
        assert value not in json.dumps(listed)
        assert listed["GREETING"]["value"] == hashlib.sha256(value.encode()).hexdigest()
        assert invoke(services, name).json()["secret"] == value
        assert client.request("DELETE", "/secrets", json=["GREETING"]).status_code == 200
        assert "GREETING" not in {s["name"] for s in client.get("/secrets").json()}
    assert invoke(services, name).json()["secret"] is None


def test_secret_read_at_boot_is_refreshed_after_a_change(services: Services) -> None:
    name = slug()
    deploy(
        services,
        name,
        {
            "index.ts": 'const v = Deno.env.get("BOOT_VALUE");\n'
            "Deno.serve(() => new Response(String(v)));"
        },
    )
    with api(services) as client:
        client.post("/secrets", json=[{"name": "BOOT_VALUE", "value": "first"}])
        assert invoke(services, name).text == "first"
        client.post("/secrets", json=[{"name": "BOOT_VALUE", "value": "second"}])
        assert invoke(services, name).text == "second"
        client.request("DELETE", "/secrets", json=["BOOT_VALUE"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"name": "SUPABASE_X", "value": "v"}], "must not start with the SUPABASE_ prefix"),
        ([{"name": "BIG", "value": "x" * 24577}], "Invalid value for secret 'BIG'"),
        ({"name": "NOT_A_LIST"}, "expected an array"),
    ],
)
def test_bad_secrets_are_refused_naming_the_secret(
    services: Services, body: object, message: str
) -> None:
    with api(services) as client:
        response = client.post("/secrets", json=body)
    assert response.status_code == 400 and message in response.json()["message"]
    assert "x" * 100 not in response.text


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


def _deploy_request_head(services: Services, extra: str, name: str = "") -> bytes:
    ref, token = services.credentials.project_ref, services.credentials.access_token
    return (
        f"POST /v1/projects/{ref}/functions/deploy?slug={name or slug()} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\n{extra}\r\n"
    ).encode()


def _status_line(sock: socket.socket) -> str:
    return sock.recv(4096).split(b"\r\n", 1)[0].decode()


def test_an_upload_declared_too_large_is_refused_before_its_body_is_read(
    services: Services,
) -> None:
    """120 MiB declared, 64 KiB sent: the answer comes at once (before, the runtime read the
    whole body into memory and only then said 413); the refusal names the function."""
    name = slug()
    with socket.create_connection(("127.0.0.1", services.env.runtime_port), timeout=10) as sock:
        sock.sendall(
            _deploy_request_head(services, f"Content-Length: {120 * 1024 * 1024}\r\n", name)
        )
        sock.sendall(b"-" * 65536)
        answer = b""
        while b"exceeds" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.split(b"\r\n", 1)[0] == b"HTTP/1.1 413 Payload Too Large"
    assert f"Deploy of function '{name}': the request body exceeds" in body.decode()


def test_a_chunked_upload_stops_being_read_past_the_limit(services: Services) -> None:
    chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b"-" * 1024 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", services.env.runtime_port), timeout=10) as sock:
        sock.sendall(_deploy_request_head(services, "Transfer-Encoding: chunked\r\n"))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 64 * 1024 * 1024 and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += 1024 * 1024
        assert _status_line(sock) == "HTTP/1.1 413 Payload Too Large"
    assert sent < 40 * 1024 * 1024  # the limit (20 MiB + 1 MiB) plus what sockets buffer
