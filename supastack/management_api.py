"""A client for the Supabase Management API (https://api.supabase.com/v1).

The token is sent as a bearer header and never appears in an error or a ``repr``. Errors name
the method, path and status with the API's own message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from supastack.errors import SupastackError

TIMEOUT_S = 30.0


class ManagementApi:
    """One project's view of the Management API."""

    def __init__(
        self,
        base_url: str,
        token: str,
        project_ref: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.project_ref = project_ref
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_S,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"ManagementApi({self._http.base_url!s}, project_ref={self.project_ref!r})"

    def request(self, method: str, path: str, json: object = None) -> Any:
        """Call ``/v1/projects/<ref><path>``; return the decoded JSON body (None if empty)."""
        url = f"/v1/projects/{self.project_ref}{path}"
        try:
            response = self._http.request(method, url, json=json)
        except httpx.HTTPError as exc:
            raise SupastackError(f"Management API {method} {url}: {exc}") from None
        if response.is_error:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise SupastackError(f"Management API {method} {url}: {response.status_code} {message}")
        return response.json() if response.content else None

    def postgres_config(self) -> Mapping[str, Any]:
        return dict(self.request("GET", "/config/database/postgres") or {})

    def update_postgres_config(self, values: Mapping[str, Any]) -> None:
        self.request("PUT", "/config/database/postgres", json=dict(values))
