"""The Postgres settings provider (components/providers/database/settings.py), called directly:
locally (reload, restart, drift, reset, bad values, a setting Postgres cannot start with) and
through Supabase's Management API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from components.providers.database.settings import PostgresSettingsProvider
from supastack.database.pg_settings import ManagementApiSettings
from supastack.errors import SupastackError
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, outs, wait_until


def _settings_props(services: Services, values: dict[str, str]) -> dict[str, Any]:
    return {
        "conninfo": services.dsn(),
        "token": None,
        "target": "local",
        "local": {"state_dir": str(services.env.state_dir), "port": services.env.db_port},
        "api": None,
        "values": values,
    }


def _live(services: Services, name: str) -> str:
    with services.connect() as conn:
        return str(conn.execute("select current_setting(%s)", [name]).fetchone()[0])  # type: ignore[index]


def test_local_settings_reload_restart_drift_and_reset(services: Services) -> None:
    provider = PostgresSettingsProvider()
    props = _settings_props(services, {"work_mem": "8MB", "max_locks_per_transaction": "128"})
    created = provider.create(props)
    assert outs(created)["recorded"] == {"work_mem": "8MB", "max_locks_per_transaction": "128"}
    assert wait_until(lambda: _live(services, "work_mem") == "8MB")
    assert _live(services, "max_locks_per_transaction") == "128"  # needed the restart

    with services.connect() as conn:
        conn.execute("alter system set work_mem = '1MB'")
    read = provider.read(created.id, outs(created))
    assert (
        outs(read)["values"]["work_mem"] == "1MB"
        and provider.diff(created.id, outs(read), props).changes
    )

    smaller = _settings_props(services, {"work_mem": "8MB"})
    provider.update(created.id, outs(read), smaller)
    assert _live(services, "max_locks_per_transaction") == "64"  # removed: reset, restarted
    provider.delete(created.id, smaller)
    assert wait_until(lambda: _live(services, "work_mem") == "4MB")


def test_a_bad_setting_names_itself_and_leaves_the_old_values(services: Services) -> None:
    provider = PostgresSettingsProvider()
    created = provider.create(_settings_props(services, {"work_mem": "8MB"}))
    with pytest.raises(
        SupastackError, match=r"postgresSettings.statement_timeout: .*invalid value"
    ):
        provider.update(
            created.id,
            outs(created),
            _settings_props(services, {"work_mem": "16MB", "statement_timeout": "soon"}),
        )
    assert outs(provider.read(created.id, outs(created)))["recorded"] == {"work_mem": "8MB"}
    for values, message in [
        ({"no_such_thing": "1"}, "Postgres has no such setting"),
        ({"port": "1"}, "is managed by the local target"),
    ]:
        with pytest.raises(
            SupastackError, match=rf"postgresSettings.{next(iter(values))}: {message}"
        ):
            provider.create(_settings_props(services, values))
    provider.delete(created.id, outs(created))


def test_supabase_settings_go_through_the_management_api() -> None:
    sent: list[tuple[str, str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path, json.loads(request.content or b"null")))
        if request.headers["authorization"] != "Bearer sbp_test":
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(200, json={"max_connections": 200, "statement_timeout": "30s"})

    target = ManagementApiSettings(
        ManagementApi(
            "https://api.example", "sbp_test", "abcdefghijklmnopqrst", httpx.MockTransport(api)
        )
    )
    target.apply({"max_connections": "200", "statement_timeout": "30s"})
    assert sent[-1] == (
        "PUT",
        "/v1/projects/abcdefghijklmnopqrst/config/database/postgres",
        {"max_connections": "200", "statement_timeout": "30s", "restart_database": True},
    )
    assert target.recorded(["max_connections"]) == {"max_connections": "200"}
    with pytest.raises(
        SupastackError, match=r"postgresSettings.wal_level: Supabase does not accept"
    ):
        target.apply({"wal_level": "minimal"})


def test_a_setting_postgres_cannot_start_with_is_rolled_back_and_the_cluster_kept_up(
    services: Services,
) -> None:
    """shared_buffers = 512GB passes ALTER SYSTEM but the server cannot start with it: the
    previous values come back, the cluster runs, and the error names the setting and what
    Postgres said (before, the cluster stayed down and every `local up` failed the same way)."""
    provider = PostgresSettingsProvider()
    created = provider.create(_settings_props(services, {"work_mem": "8MB"}))
    with pytest.raises(SupastackError) as failed:
        provider.update(
            created.id,
            outs(created),
            _settings_props(services, {"work_mem": "16MB", "shared_buffers": "512GB"}),
        )
    assert str(failed.value).startswith(
        "postgresSettings.shared_buffers = '512GB': Postgres did not start with it (could not "
    )
    assert "the previous settings were put back" in str(failed.value)
    assert _live(services, "shared_buffers") == "128MB"  # it answers, with the old value
    assert outs(provider.read(created.id, outs(created)))["recorded"] == {"work_mem": "8MB"}
    assert "512GB" not in services.env.cluster(services.credentials).system_settings()
    provider.delete(created.id, outs(created))
