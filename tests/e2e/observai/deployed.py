"""The deployed hub the package's tests share (two organizations), and how they call it."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

import httpx

from supastack.local.environment import LocalEnvironment
from tests.conftest import RecordingServer
from tests.e2e.conftest import DeployedApp

DENIED = "42501"
HOOK = "observai-hook"

#: A time as JavaScript's toISOString writes it, in UTC.
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@dataclass
class Org:
    id: str
    slug: str
    owner: str
    viewer: str
    # API keys: out of the repr, so an assertion's message never prints them
    key: str = field(default="", repr=False)
    read_key: str = field(default="", repr=False)
    outsider: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Hub(DeployedApp):
    env: LocalEnvironment
    hook: RecordingServer
    a: Org
    b: Org

    def keyed(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.services.credentials.anon_key}", "x-api-key": key}

    def ingest(self, headers: dict[str, str], body: object, **params: str) -> httpx.Response:
        return httpx.post(f"{self.url}/ingest", json=body, headers=headers, params=params,
                          timeout=30)  # fmt: skip

    def get(self, fn: str, headers: dict[str, str], **params: str) -> httpx.Response:
        return httpx.get(f"{self.url}/{fn}", headers=headers, params=params, timeout=30)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def hour_ago_aligned() -> dt.datetime:
    return (utc_now() - dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
