"""A client for the Supabase Management API (https://api.supabase.com/v1).

One client drives Supabase and the local edge runtime, which serves the same paths. The token
goes in a bearer header and never into an error or a ``repr``; secret values are sent, never
echoed. Errors name the function or secret concerned and quote the API's message.

Rate limits and outages are retried, a bounded number of times: on 429 and 5xx the client waits
what ``Retry-After`` or ``X-RateLimit-Reset`` asks (capped), else an exponential backoff.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from supastack.errors import SupastackError

TIMEOUT_S = 30.0
MAX_ATTEMPTS = 5
BACKOFF_S = 0.5
MAX_WAIT_S = 60.0


@dataclass(frozen=True)
class Upload:
    """What a function deploy sends: the metadata and the files by relative path."""

    slug: str
    entrypoint_path: str
    files: Mapping[str, bytes] = field(repr=False)
    verify_jwt: bool = True
    import_map_path: str | None = None
    static_patterns: tuple[str, ...] = ()


def _backoff(attempt: int) -> float:
    return min(BACKOFF_S * 2.0**attempt, MAX_WAIT_S)


def _wait_for(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying: what the server asks, else exponential backoff."""
    for header in ("retry-after", "x-ratelimit-reset"):
        value = response.headers.get(header)
        if value is not None:
            try:
                return min(max(float(value), 0.0), MAX_WAIT_S)
            except ValueError:
                continue
    return _backoff(attempt)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return str(body)


class ManagementApi:
    """One project's view of the Management API."""

    def __init__(
        self,
        base_url: str,
        token: str,
        project_ref: str,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.project_ref = project_ref
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"ManagementApi({self._http.base_url!s}, project_ref={self.project_ref!r})"

    def request(
        self,
        method: str,
        path: str,
        subject: str,
        *,
        ok_missing: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call ``/v1/projects/<ref><path>`` about ``subject`` (named in errors).

        Returns the decoded JSON body (None if empty, or on 404 when ``ok_missing``).
        """
        url = f"/v1/projects/{self.project_ref}{path}"
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt == MAX_ATTEMPTS - 1:
                    raise SupastackError(
                        f"{subject}: Management API {method} {url}: {exc}"
                    ) from None
                self._sleep(_backoff(attempt))
                continue
            retryable = response.status_code == 429 or response.status_code >= 500
            if retryable and attempt < MAX_ATTEMPTS - 1:
                self._sleep(_wait_for(response, attempt))
                continue
            break
        if response.status_code == 404 and ok_missing:
            return None
        if response.is_error:
            tries = f" after {MAX_ATTEMPTS} attempts" if retryable else ""
            raise SupastackError(
                f"{subject}: Management API {method} {url} answered "
                f"{response.status_code}{tries}: {_message(response)}"
            )
        return response.json() if response.content else None

    # -- functions -------------------------------------------------------------------------

    def deploy_function(self, upload: Upload) -> dict[str, Any]:
        """Deploy (create or replace) a function; the answer has its ``version``."""
        metadata = {
            "name": upload.slug,
            "entrypoint_path": upload.entrypoint_path,
            "verify_jwt": upload.verify_jwt,
            "static_patterns": list(upload.static_patterns),
        }
        if upload.import_map_path:
            metadata["import_map_path"] = upload.import_map_path
        files = [
            ("file", (path, data, "application/octet-stream"))
            for path, data in sorted(upload.files.items())
        ]
        result: dict[str, Any] = self.request(
            "POST",
            "/functions/deploy",
            f"function {upload.slug!r}",
            params={"slug": upload.slug},
            data={"metadata": json.dumps(metadata)},
            files=files,
        )
        return result

    def list_functions(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/functions", "functions") or [])

    def get_function(self, slug: str) -> dict[str, Any] | None:
        """The function, or None if there is none by that slug."""
        found: dict[str, Any] | None = self.request(
            "GET", f"/functions/{slug}", f"function {slug!r}", ok_missing=True
        )
        return found

    def delete_function(self, slug: str) -> None:
        """Delete the function; one that is gone already is not an error."""
        self.request("DELETE", f"/functions/{slug}", f"function {slug!r}", ok_missing=True)

    # -- secrets ---------------------------------------------------------------------------

    def secret_digests(self) -> dict[str, str]:
        """Secret names and the digests the API shows instead of values."""
        listed = self.request("GET", "/secrets", "secrets") or []
        return {item["name"]: item["value"] for item in listed}

    def upsert_secrets(self, values: Mapping[str, str]) -> None:
        if values:
            body = [{"name": name, "value": value} for name, value in sorted(values.items())]
            self.request("POST", "/secrets", f"secrets {sorted(values)}", json=body)

    def delete_secrets(self, names: Iterable[str]) -> None:
        names = sorted(names)
        if names:
            self.request("DELETE", "/secrets", f"secrets {names}", json=names)

    # -- Realtime config -------------------------------------------------------------------

    def realtime_config(self) -> Mapping[str, Any]:
        return dict(self.request("GET", "/config/realtime", "realtime config") or {})

    def update_realtime_config(self, values: Mapping[str, Any]) -> None:
        self.request(
            "PATCH", "/config/realtime", f"realtimeConfig {sorted(values)}", json=dict(values)
        )

    # -- Data API (PostgREST) config -------------------------------------------------------

    def postgrest_config(self) -> Mapping[str, Any]:
        return dict(self.request("GET", "/postgrest", "Data API config") or {})

    def update_postgrest_config(self, values: Mapping[str, Any]) -> None:
        self.request("PATCH", "/postgrest", f"Data API config {sorted(values)}", json=dict(values))

    # -- Postgres config -------------------------------------------------------------------

    def postgres_config(self) -> Mapping[str, Any]:
        return dict(self.request("GET", "/config/database/postgres", "postgres config") or {})

    def update_postgres_config(self, values: Mapping[str, Any]) -> None:
        self.request(
            "PUT",
            "/config/database/postgres",
            f"postgresSettings {sorted(values)}",
            json=dict(values),
        )

    # -- connection pooler (Supavisor), SSL enforcement, network restrictions ---------------

    def pooler_config(self) -> Mapping[str, Any]:
        """The primary database's pooler settings (the API lists one entry per database)."""
        entries = self.request("GET", "/config/database/pooler", "pooler config") or []
        primary = [e for e in entries if e.get("database_type", "PRIMARY") == "PRIMARY"]
        return dict(primary[0]) if primary else {}

    def update_pooler_config(self, values: Mapping[str, Any]) -> None:
        self.request(
            "PATCH", "/config/database/pooler", f"pooler {sorted(values)}", json=dict(values)
        )

    def ssl_enforcement(self) -> bool:
        answer = self.request("GET", "/ssl-enforcement", "SSL enforcement") or {}
        return bool(answer.get("currentConfig", {}).get("database"))

    def update_ssl_enforcement(self, enforced: bool) -> None:
        answer = self.request(
            "PUT",
            "/ssl-enforcement",
            "SSL enforcement",
            json={"requestedConfig": {"database": enforced}},
        )
        if not (answer or {}).get("appliedSuccessfully", False):
            raise SupastackError(
                f"SSL enforcement: the Management API did not apply database={enforced}"
            )

    def network_restrictions(self) -> Mapping[str, Any]:
        return dict(self.request("GET", "/network-restrictions", "network restrictions") or {})

    def apply_network_restrictions(self, cidrs: Mapping[str, list[str]]) -> Mapping[str, Any]:
        """Replace the allow-list (applied asynchronously: ``status`` goes stored -> applied)."""
        return dict(
            self.request(
                "POST",
                "/network-restrictions/apply",
                "network restrictions",
                json=dict(cidrs),
            )
            or {}
        )
