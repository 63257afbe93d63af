"""A fresh local target per e2e module (per package for an app's tests), and the local
stack's config pointed at it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from applier.engine import Deployment, stack_config
from tests.conftest import Services, start_services


def fresh_target(state_root: Path, name: str) -> Iterator[Services]:
    """A fresh local target in ``e2e-<name>``, taken down after its tests. With a Redis: the
    local stack's apps ask for one, and a deploy through `local up` must find it on this
    target's own port, never on the developer's (54323)."""
    services = start_services(state_root / f"e2e-{name}", redis=True)
    yield services
    services.env.down(report=lambda _: None)


@pytest.fixture(scope="module")
def fresh(state_root: Path, request: pytest.FixtureRequest) -> Iterator[Services]:
    """A target per module; an app's package (tests/e2e/<app>/) overrides it with one for the
    whole package (package_target), so that the app is deployed once for its modules."""
    yield from fresh_target(state_root, request.module.__name__.rsplit(".", 1)[-1])


def package_target() -> object:
    """The ``fresh`` fixture of an app's package (its conftest.py: ``fresh = package_target()``):
    one target for all the package's modules, in ``e2e-<app>``."""

    @pytest.fixture(scope="package", name="fresh")
    def package_fresh(state_root: Path, request: pytest.FixtureRequest) -> Iterator[Services]:
        yield from fresh_target(state_root, request.node.path.name)

    return package_fresh


def local_config(services: Services, **overrides: object) -> dict[str, str]:
    """Pulumi.local.yaml with the fresh target's state directory and ports. A config that
    chooses its ``apps`` sets no flags unless it says so (the file's flags belong to its apps)."""
    if "apps" in overrides:
        overrides = {"flags": {}, **overrides}
    return stack_config(
        "Pulumi.local.yaml",
        {
            "local": {
                "stateDir": str(services.env.state_dir),
                "dbPort": services.env.db_port,
                "runtimePort": services.env.runtime_port,
                **({"redisPort": services.env.redis_port} if services.env.redis_port else {}),
            },
            "database": {"host": "127.0.0.1", "port": services.env.db_port, "name": "postgres",
                         "user": "postgres", "sslmode": "disable"},
            "backups": {"enabled": True, "directory": str(services.env.state_dir / "backups")},
            **overrides,
        },
    )  # fmt: skip


class As:
    """Run statements as an API role, as PostgREST does (role and JWT claims per transaction)."""

    def __init__(self, stack: Services, role: str, user: str | None = None) -> None:
        self.stack, self.role, self.user = stack, role, user

    def run(self, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]] | str:
        """The rows, or the SQLSTATE of the error."""
        outcome = self.outcome(statement, params)
        return outcome if isinstance(outcome, list) else outcome[0]

    def outcome(
        self, statement: str, params: list[Any] | None = None
    ) -> list[tuple[Any, ...]] | tuple[str, str]:
        """The rows, or the error's SQLSTATE and message: all a caller learns."""
        with self.stack.connect() as conn:
            try:
                with conn.transaction():
                    conn.execute(f"set local role {self.role}".encode())
                    claims = {"role": self.role, **({"sub": self.user} if self.user else {})}
                    conn.execute(
                        "select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)]
                    )
                    cursor = conn.execute(statement.encode(), params)
                    rows = cursor.fetchall() if cursor.description else []
                    raise _RolledBackError(rows)
            except _RolledBackError as done:
                return done.rows
            except psycopg.Error as exc:
                return str(exc.sqlstate), str(exc.diag.message_primary)


class _RolledBackError(Exception):
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows


@dataclass
class DeployedApp:
    """A deployment on a fresh local target, and what the app tests ask of it."""

    services: Services
    deployment: Deployment

    @property
    def url(self) -> str:
        """Where the functions answer."""
        return f"{self.services.runtime_url}/functions/v1"

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """The rows of a statement run as the database owner (committed)."""
        with self.services.connect() as conn:
            return conn.execute(query.encode(), params or None).fetchall()

    def scalar(self, query: str, *params: object) -> Any:
        rows = self.rows(query, *params)
        return rows[0][0] if rows else None

    def signed_in(self, user: str, email: str | None = None) -> dict[str, str]:
        """The headers of a signed-in user (a token from the project's signing key)."""
        claims = {"role": "authenticated", "sub": user, **({"email": email} if email else {})}
        token = self.services.credentials.user_token(claims)
        return {"Authorization": f"Bearer {token}"}

    def job(self) -> dict[str, str]:
        """The headers of a scheduled job: the job secret from Vault as the bearer."""
        secret = self.scalar(
            "select decrypted_secret from vault.decrypted_secrets where name = 'JOB_SECRET'"
        )
        return {"Authorization": f"Bearer {secret}"}
