"""Shared fixtures: throwaway local services on free ports, and local HTTP stand-ins.

No test depends on a running `supastack local up`: core tests get their own cluster and edge
runtime in a temporary directory, started through the same code as `local up` and stopped at
the end of the session.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from supastack.config.settings import PLATFORM_APPS
from supastack.local.credentials import LocalCredentials
from supastack.local.environment import LocalEnvironment
from supastack.local.paths import PROJECT_DIR
from supastack.local.system import free_port
from supastack.migrations.files import discover
from tests.clock import DatabaseClock

T = TypeVar("T")

TESTS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder: unit (no services), core (real services), e2e."""
    for item in items:
        folder = Path(str(item.fspath)).relative_to(TESTS_DIR).parts[0]
        if folder in ("unit", "core", "e2e"):
            item.add_marker(getattr(pytest.mark, folder))


@dataclass
class Services:
    """A running throwaway local environment."""

    env: LocalEnvironment
    credentials: LocalCredentials = field(repr=False)
    clock: DatabaseClock = field(repr=False)

    @property
    def runtime_url(self) -> str:
        return f"http://127.0.0.1:{self.env.runtime_port}"

    def dsn(self, user: str = "postgres", password: str | None = None) -> str:
        return self.env.cluster(self.credentials).dsn(user, password)

    def connect(self, **kwargs: object) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.dsn(), autocommit=True, **kwargs)  # type: ignore[arg-type]


def start_services(state_dir: Path, *, redis: bool = False) -> Services:
    """A local target on free ports (with a Redis, for apps that ask for one)."""
    env = LocalEnvironment(state_dir, db_port=free_port(), runtime_port=free_port(),
                           redis_port=free_port() if redis else None)  # fmt: skip
    clock = DatabaseClock(state_dir)
    clock.install(env.paths.postgres_environment)
    env.up(report=lambda _: None)
    return Services(env, env.credentials(), clock)


@pytest.fixture(scope="session")
def state_root() -> Iterator[Path]:
    """A temporary directory the `postgres` user can traverse (pytest's own are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="supastack-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def services(state_root: Path) -> Iterator[Services]:
    started = start_services(state_root / "shared")
    yield started
    started.env.down(report=lambda _: None)


def wait_until(probe: Callable[[], T], timeout: float = 10, every: float = 0.05) -> T:
    """Poll a condition a service reaches on its own (e.g. a log it flushes every 100 ms);
    ``every``: the pause between probes (longer for a probe that spends a rate limit)."""
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s")
        time.sleep(every)
    return result


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler of the local HTTP stand-ins: JSON answers, quiet in the test output."""

    def answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def json_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: object) -> None:
        return


class LocalServer:
    """A threaded HTTP server on a free 127.0.0.1 port serving ``handler`` until
    :meth:`close`; its address is :attr:`url`. The base of every third-party stand-in."""

    def __init__(self, handler: type[JsonHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class RecordingServer(LocalServer):
    """An HTTP endpoint on 127.0.0.1 that records each request and answers 200 JSON."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._arrived = threading.Condition()
        recorder = self

        class Handler(JsonHandler):
            def _record(self) -> None:
                body = self.json_body()
                with recorder._arrived:
                    recorder.requests.append(
                        Recorded(self.command, self.path, dict(self.headers.items()), body)
                    )
                    recorder._arrived.notify_all()
                self.answer(200, {"ok": True})

            do_GET = do_POST = do_DELETE = do_PATCH = _record  # noqa: N815

        super().__init__(Handler)

    def wait_for(self, count: int, timeout: float = 30) -> list[Recorded]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            return list(self.requests)


@pytest.fixture
def http_endpoint() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.close()


def copy_platform_apps(root: Path) -> None:
    """Give a test project the platform's own apps (deployed on every stack)."""
    for app in PLATFORM_APPS:
        (root / "apps").mkdir(exist_ok=True)
        shutil.copy(PROJECT_DIR / "apps" / f"{app}.yaml", root / "apps")
        shutil.copytree(PROJECT_DIR / "migrations" / app, root / "migrations" / app)


def project_file(root: Path) -> None:
    """The project's ``Pulumi.yaml`` in ``root``: what makes a directory a project (the CLI
    finds the nearest one, as the Pulumi CLI does)."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", root)


def copy_from_project(root: Path, parts: Iterable[str]) -> Path:
    """A project in ``root`` made of these files and directories of this one, copied (not
    linked: packaging refuses an import that leaves ``functions/``); ``root``."""
    for part in parts:
        source, target = PROJECT_DIR / part, root / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    return root


def write_migrations(root: Path, app: str, files: dict[str, str]) -> Path:
    """Write ``{file name: sql}`` under ``root/migrations/<app>/``; return the migrations dir."""
    directory = root / "migrations" / app
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return root / "migrations"


def later_version(project: Path, after: int = 1) -> str:
    """A migration version ``after`` past the newest of the project's (versions are unique per
    database and applied in order): a test's added file stays the newest as the apps grow."""
    root = project / "migrations"
    found = discover(root, [app.name for app in root.iterdir() if app.is_dir()])
    return str(max(int(file.version) for files in found.values() for file in files) + after)


def js_time(at: dt.datetime) -> str:
    """``at`` as JavaScript writes a time (``Date.toISOString``): UTC, milliseconds, ``Z``."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def outs(result: CreateResult | UpdateResult | ReadResult) -> dict[str, Any]:
    """The outputs of a dynamic provider's create, update or read."""
    assert result.outs is not None
    return result.outs
