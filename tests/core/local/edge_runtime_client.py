"""What the local edge runtime's tests deploy and how they call it: the Management API subset
(deploy), the functions path (invoke)."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.conftest import Services

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
