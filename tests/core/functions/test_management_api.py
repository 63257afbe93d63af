"""The Management API client against the local edge runtime, and its retries against a
scripted HTTP server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping

import httpx
import pytest

from components.providers.database.realtime import RealtimeConfigProvider
from supastack.errors import SupastackError
from supastack.functions import function_secrets
from supastack.platform.management_api import MAX_ATTEMPTS, ManagementApi, Upload
from tests.conftest import JsonHandler, LocalServer, RecordingServer, Services

HELLO = b'Deno.serve(() => new Response("hello from v1"));\n'


@pytest.fixture
def api(services: Services) -> ManagementApi:
    return ManagementApi(services.runtime_url, services.credentials.access_token, "local")


def _upload(slug: str, source: bytes = HELLO, verify_jwt: bool = False) -> Upload:
    return Upload(
        slug=slug,
        entrypoint_path=f"demo/{slug}/index.ts",
        files={f"demo/{slug}/index.ts": source},
        verify_jwt=verify_jwt,
    )


def test_deploy_list_get_invoke_and_delete(api: ManagementApi, services: Services) -> None:
    deployed = api.deploy_function(_upload("api-hello"))
    assert (deployed["slug"], deployed["version"], deployed["verify_jwt"]) == (
        "api-hello",
        1,
        False,
    )
    again = api.deploy_function(_upload("api-hello", b'Deno.serve(() => new Response("v2"));\n'))
    assert again["version"] == 2

    assert api.get_function("api-hello")["version"] == 2  # type: ignore[index]
    assert "api-hello" in [f["slug"] for f in api.list_functions()]
    assert httpx.get(f"{services.runtime_url}/functions/v1/api-hello").text == "v2"

    api.delete_function("api-hello")
    assert api.get_function("api-hello") is None
    api.delete_function("api-hello")  # gone already: not an error


def test_secrets_show_digests_never_values(api: ManagementApi) -> None:
    api.upsert_secrets({"API_TEST_ONE": "first value", "API_TEST_TWO": "second"})
    digests = api.secret_digests()
    assert digests["API_TEST_ONE"] == hashlib.sha256(b"first value").hexdigest()
    assert "first value" not in json.dumps(digests)
    api.delete_secrets(["API_TEST_ONE", "API_TEST_TWO"])
    assert not {"API_TEST_ONE", "API_TEST_TWO"} & set(api.secret_digests())


def test_a_secret_already_set_to_the_declared_value_is_taken_over_not_set_again(
    services: Services,
) -> None:
    """Adopting a live project: a secret set by hand (`supabase secrets set`) to the value the
    stack declares is taken over by its digest; one set to another value is set."""

    upserted: list[list[str]] = []

    class Recording(ManagementApi):
        def upsert_secrets(self, values: Mapping[str, str]) -> None:
            upserted.append(sorted(values))
            super().upsert_secrets(values)

    api = Recording(services.runtime_url, services.credentials.access_token, "local")
    api.upsert_secrets({"SYNC_SAME": "declared", "SYNC_OTHER": "by hand"})
    upserted.clear()
    declared = {"SYNC_SAME": "declared", "SYNC_OTHER": "declared too", "SYNC_NEW": "new"}
    try:
        digests = function_secrets.sync(api, {}, declared)
        assert upserted == [["SYNC_NEW", "SYNC_OTHER"]]
        assert digests == {name: function_secrets.digest(v) for name, v in declared.items()}
        upserted.clear()
        assert function_secrets.sync(api, declared, declared) == digests  # nothing changed
        assert upserted == [[]]
    finally:
        api.delete_secrets(list(declared))


def test_a_bad_token_is_401_and_the_token_stays_out_of_the_message(services: Services) -> None:
    wrong = "sbp_" + "0" * 40
    with pytest.raises(SupastackError) as failure:
        ManagementApi(services.runtime_url, wrong, "local").list_functions()
    assert "functions: Management API GET /v1/projects/local/functions answered 401" in str(
        failure.value
    )
    assert "Unauthorized" in str(failure.value) and wrong not in str(failure.value)


def test_4xx_errors_name_the_function_and_quote_the_api(api: ManagementApi) -> None:
    with pytest.raises(
        SupastackError, match=r"function '9lives': .* answered 400: Invalid function slug '9lives'"
    ):
        api.deploy_function(_upload("9lives"))
    bad = Upload(
        slug="api-bad",
        entrypoint_path="demo/api-bad/main.ts",
        files={"demo/api-bad/index.ts": HELLO},
    )
    with pytest.raises(
        SupastackError,
        match=r"function 'api-bad': .*no file part uploaded for 'demo/api-bad/main.ts'",
    ):
        api.deploy_function(bad)


class ScriptedServer(LocalServer):
    """Answers each request with the next (status, headers) of a script, then 200 `[]`."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.requests = 0
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                server.requests += 1
                status, headers = server.script.pop(0) if server.script else (200, {})
                self.answer(status, [] if status == 200 else {"message": "slow down"}, headers)

        super().__init__(Handler)


@pytest.fixture
def scripted() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for server in servers:
        server.close()


def _client(
    servers: list[ScriptedServer], script: list[tuple[int, dict[str, str]]], waits: list[float]
) -> tuple[ManagementApi, ScriptedServer]:
    server = ScriptedServer(script)
    servers.append(server)
    return ManagementApi(server.url, "sbp_test", "abcdefghijklmnopqrst", sleep=waits.append), server


def test_429_and_503_are_retried_honouring_the_server(scripted: list[ScriptedServer]) -> None:
    waits: list[float] = []
    client, server = _client(
        scripted,
        [(429, {"Retry-After": "3"}), (429, {"X-RateLimit-Reset": "7"}), (503, {})],
        waits,
    )
    assert client.list_functions() == []
    assert server.requests == 4
    assert waits == [3.0, 7.0, 2.0]  # the server's word, then exponential backoff (0.5 * 2**2)


def test_retries_are_bounded_and_the_error_says_so(scripted: list[ScriptedServer]) -> None:
    waits: list[float] = []
    client, server = _client(scripted, [(503, {})] * MAX_ATTEMPTS, waits)
    with pytest.raises(
        SupastackError, match=rf"answered 503 after {MAX_ATTEMPTS} attempts: slow down"
    ):
        client.list_functions()
    assert server.requests == MAX_ATTEMPTS and len(waits) == MAX_ATTEMPTS - 1


def test_a_client_error_is_not_retried(scripted: list[ScriptedServer]) -> None:
    waits: list[float] = []
    client, server = _client(scripted, [(404, {})], waits)
    assert client.get_function("nope") is None
    assert server.requests == 1 and waits == []


def test_realtime_config_is_patched_and_read_back(http_endpoint: RecordingServer) -> None:
    provider = RealtimeConfigProvider()
    props = {
        "api": {"url": http_endpoint.url, "project_ref": "abcdefghijklmnopqrst"},
        "token": "sbp_test",
        "values": {"max_concurrent_users": 1000},
    }
    provider.create(props)
    sent = http_endpoint.wait_for(1)[0]
    assert (sent.method, sent.path) == (
        "PATCH",
        "/v1/projects/abcdefghijklmnopqrst/config/realtime",
    )
    assert sent.json() == {"max_concurrent_users": 1000}
    read = provider.read("realtime-config", props)  # the endpoint does not echo the limit
    assert read.outs is not None and provider.diff("realtime-config", read.outs, props).changes
