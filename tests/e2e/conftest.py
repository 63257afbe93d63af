"""A fresh local target per e2e module, and the local stack's config pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from applier.engine import stack_config
from tests.conftest import Services, start_services


@pytest.fixture(scope="module")
def fresh(state_root: Path, request: pytest.FixtureRequest) -> Iterator[Services]:
    services = start_services(state_root / f"e2e-{request.module.__name__.rsplit('.', 1)[-1]}")
    yield services
    services.env.down(report=lambda _: None)


def local_config(services: Services, **overrides: object) -> dict[str, str]:
    """Pulumi.local.yaml with the fresh target's state directory and ports."""
    return stack_config(
        "Pulumi.local.yaml",
        {
            "local": {
                "stateDir": str(services.env.state_dir),
                "dbPort": services.env.db_port,
                "runtimePort": services.env.runtime_port,
            },
            "database": {"host": "127.0.0.1", "port": services.env.db_port, "name": "postgres",
                         "user": "postgres", "sslmode": "disable"},
            "backups": {"enabled": True, "directory": str(services.env.state_dir / "backups")},
            **overrides,
        },
    )  # fmt: skip
