"""An app that asks for a Redis (`redis: true`), deployed by the program to a fresh local target
whose `local up` started one: its functions find it through the REDIS_URL secret, which the
target provides (nothing to set), and only the secret's name and digest are visible."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from applier.engine import deploy
from supastack.local.paths import PROJECT_DIR
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, project_file, start_services
from tests.e2e.conftest import local_config

VISITS = """\
import { json, serve } from "../../_shared/mod.ts";

// INCR a counter in the app's Redis over its protocol (RESP), with REDIS_URL's password.
serve(import.meta.url, { callers: ["anon", "user"] }, async () => {
  const url = new URL(Deno.env.get("REDIS_URL")!);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const commands = `AUTH ${decodeURIComponent(url.password)}\\r\\nINCR visits\\r\\nQUIT\\r\\n`;
  await conn.write(new TextEncoder().encode(commands));
  const reply = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
  return json(200, { visits: Number(reply.split("\\r\\n")[1].slice(1)) });
});
"""


@pytest.fixture(scope="module")
def target(state_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = start_services(state_root / "e2e-redis", redis=True)
    project = tmp_path_factory.mktemp("redis-app")
    shutil.copy(PROJECT_DIR / "__main__.py", project)
    project_file(project)
    (project / "apps").mkdir()
    shutil.copy(PROJECT_DIR / "apps" / "monitoring.yaml", project / "apps")
    (project / "apps" / "visits.yaml").write_text("redis: true\nfunctions: {visits: {}}\n")
    shutil.copytree(
        PROJECT_DIR / "migrations" / "monitoring", project / "migrations" / "monitoring"
    )
    shutil.copytree(PROJECT_DIR / "functions" / "_shared", project / "functions" / "_shared")
    for pins in ("deno.json", "deno.lock"):
        shutil.copy(PROJECT_DIR / "functions" / pins, project / "functions")
    (project / "functions" / "visits" / "visits").mkdir(parents=True)
    (project / "functions" / "visits" / "visits" / "index.ts").write_text(VISITS)
    deploy(local_config(services, apps=["visits"]), project=project)
    yield services
    services.env.down(report=lambda _: None)


def test_functions_reach_the_apps_redis_through_redis_url(target: Services) -> None:
    url = f"{target.runtime_url}/functions/v1/visits"
    headers = {"Authorization": f"Bearer {target.credentials.anon_key}"}
    counts = [httpx.get(url, headers=headers, timeout=30).json()["visits"] for _ in range(3)]
    assert counts == [1, 2, 3]
    api = ManagementApi(target.runtime_url, target.credentials.access_token, "local")
    digests = api.secret_digests()
    assert "REDIS_URL" in digests
    assert target.credentials.redis_password not in str(digests)  # a digest, never the value
