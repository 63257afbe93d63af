"""The local edge runtime's Management API subset: versions and content hashes, list, get and
delete, its access token and project, refused deploys, boot failures, secrets, and upload
limits."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import select
import socket
import uuid

import httpx
import pytest

from tests.conftest import Services
from tests.core.local.edge_runtime_client import HELLO, api, deploy, invoke, slug


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
