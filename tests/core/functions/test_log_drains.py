"""Log drains on the local target: the edge runtime forwards the lines each drain selects."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from supastack.config.settings import LogDrainSettings
from supastack.functions.drains import DRAINS_SECRET, drains_json
from supastack.platform.management_api import ManagementApi, Upload
from tests.conftest import RecordingServer, Services

OK = 'Deno.serve(() => new Response("fine"));\n'
FAILING = 'Deno.serve(() => { throw new Error("boom"); });\n'


@pytest.fixture
def api(services: Services) -> Iterator[ManagementApi]:
    client = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    yield client
    client.delete_secrets([DRAINS_SECRET])
    for slug in ("drain-ok", "drain-failing"):
        client.delete_function(slug)


def _deploy(api: ManagementApi, slug: str, source: str) -> None:
    path = f"demo/{slug}/index.ts"
    api.deploy_function(
        Upload(slug=slug, entrypoint_path=path, files={path: source.encode()}, verify_jwt=False)
    )


def test_each_drain_gets_only_the_lines_it_selects(
    services: Services, api: ManagementApi, http_endpoint: RecordingServer
) -> None:
    _deploy(api, "drain-ok", OK)
    _deploy(api, "drain-failing", FAILING)
    drains = {
        "ok-only": LogDrainSettings(
            url=f"{http_endpoint.url}/ok", functions=["drain-ok"], batch_size=1
        ),
        "errors": LogDrainSettings(
            url=f"{http_endpoint.url}/errors",
            min_level="error",
            batch_size=1,
            auth_secret="DRAIN_TOKEN",
        ),
    }
    api.upsert_secrets({DRAINS_SECRET: drains_json(drains, {"DRAIN_TOKEN": "Bearer drain-123"})})

    assert httpx.get(f"{services.runtime_url}/functions/v1/drain-ok").status_code == 200
    assert httpx.get(f"{services.runtime_url}/functions/v1/drain-failing").status_code == 500
    received = http_endpoint.wait_for(2)
    by_path = {r.path: r for r in received}
    assert sorted(by_path) == ["/errors", "/ok"]
    ok_lines = json.loads(by_path["/ok"].body)
    error_lines = json.loads(by_path["/errors"].body)
    assert [(line["function"], line["status"]) for line in ok_lines] == [("drain-ok", 200)]
    assert [(line["function"], line["level"]) for line in error_lines] == [
        ("drain-failing", "error")
    ]
    headers = {path: {k.lower(): v for k, v in r.headers.items()} for path, r in by_path.items()}
    assert headers["/errors"]["authorization"] == "Bearer drain-123"
    assert "authorization" not in headers["/ok"]


def test_drain_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match=r"is not an http\(s\) URL"):
        LogDrainSettings(url="ftp://logs.example")
    with pytest.raises(ValidationError, match=r"batch_size|batchSize"):
        LogDrainSettings(url="https://logs.example", batch_size=0)
