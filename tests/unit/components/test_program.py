"""The program (`__main__.py`) and the Platform component under Pulumi's mock runtime."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pulumi
import pytest

from components.platform import Platform
from supastack.errors import SupastackError
from supastack.local.credentials import LocalCredentials
from tests.unit.conftest import RecordingMocks, Registered, one

PROJECT_DIR = Path(__file__).resolve().parents[3]


def configure(values: dict[str, object], secret_keys: list[str] | None = None) -> None:
    pulumi.runtime.set_all_config(
        {f"supastack:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()},
        [f"supastack:{k}" for k in secret_keys or []],
    )


def run_program() -> Platform:
    """Run `__main__.py` as Pulumi would and return the Platform it built."""
    platform = runpy.run_path(str(PROJECT_DIR / "__main__.py"))["platform"]
    assert isinstance(platform, Platform)
    return platform


@pulumi.runtime.test
def test_local_program_exports_endpoints_and_keeps_the_password_secret(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> pulumi.Output[None]:
    LocalCredentials.generate().save(tmp_path / "credentials.json")
    configure({"target": "local", "local": {"stateDir": str(tmp_path), "runtimePort": 55431}})
    platform = run_program()
    is_secret = pulumi.Output.is_secret(platform.db_password)

    def check(values: list[object]) -> None:
        secret, url, port, urn = values
        assert str(urn).endswith("$supastack:platform:Platform::supastack")
        assert secret is True
        assert url == "http://127.0.0.1:55431"
        assert port == 54322  # the local cluster's port (supastack:local.dbPort)

    return pulumi.Output.all(
        is_secret, platform.functions_url, platform.database_port, platform.urn
    ).apply(check)


@pulumi.runtime.test
def test_supabase_program_reads_the_password_as_a_secret(
    pulumi_mocks: RecordingMocks,
) -> pulumi.Output[None]:
    configure(
        {
            "target": "supabase",
            "projectRef": "abcdefghijklmnopqrst",
            "database": {"host": "db.abcdefghijklmnopqrst.supabase.co"},
            "dbPassword": "pw-from-secure-config",
            "accessToken": "tok",
        },
        secret_keys=["dbPassword", "accessToken"],
    )
    platform = run_program()
    is_secret = pulumi.Output.is_secret(platform.db_password)

    def check(values: list[object]) -> None:
        secret, host, url = values
        assert secret is True
        assert host == "db.abcdefghijklmnopqrst.supabase.co"
        assert url == "https://abcdefghijklmnopqrst.supabase.co"

    return pulumi.Output.all(is_secret, platform.database_host, platform.functions_url).apply(check)


def test_program_refuses_unset_secrets_naming_the_command(pulumi_mocks: RecordingMocks) -> None:
    configure({"target": "supabase", "projectRef": "abcdefghijklmnopqrst"})
    with pytest.raises(SupastackError, match=r"supastack:dbPassword is not set; run `pulumi"):
        run_program()


def test_program_refuses_a_plaintext_secret(pulumi_mocks: RecordingMocks) -> None:
    configure(
        {
            "target": "supabase",
            "projectRef": "abcdefghijklmnopqrst",
            "dbPassword": "plain-text-pw",
            "accessToken": "tok",
        },
        secret_keys=["accessToken"],
    )
    with pytest.raises(SupastackError) as info:
        run_program()
    assert "Pulumi.test.yaml: supastack:dbPassword must be a secret" in str(info.value)
    assert "plain-text-pw" not in str(info.value)


def test_local_program_without_local_up_says_what_to_run(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    configure({"target": "local", "local": {"stateDir": str(tmp_path)}})
    with pytest.raises(SupastackError, match=r"run `supastack local up` first"):
        run_program()


def test_the_staging_stack_deploys_bidding_with_its_realtime_limit(
    pulumi_mocks: RecordingMocks,
) -> None:
    configure(
        {
            "target": "supabase",
            "projectRef": "abcdefghijklmnopqrst",
            "apps": ["bidding"],
            "database": {"host": "db.abcdefghijklmnopqrst.supabase.co"},
            "dbPassword": "pw",
            "accessToken": "tok",
            "alertChannels": {"slack-ops": {"type": "slack", "secret": "SLACK_WEBHOOK_URL"}},
            "secretValues": {"SLACK_WEBHOOK_URL": "https://hooks.example/x"},
        },
        secret_keys=["dbPassword", "accessToken", "secretValues"],
    )

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        return run_program().urn

    program()  # returns once every registration has been answered
    realtime = [r for r in pulumi_mocks.resources if r.typ.endswith("RealtimeConfig")]
    assert [r.inputs["values"] for r in realtime] == [{"max_concurrent_users": 1000}]
    functions = {r.inputs["slug"] for r in pulumi_mocks.resources if r.typ.endswith("EdgeFunction")}
    assert functions == {
        "submit-bid", "set-auto-bid", "session-cleanup", "expiration-warnings", "archive-sessions",
    }  # fmt: skip
    # bidding's `api: true` reaches the Data API's config through the Management API
    exposed = [r for r in pulumi_mocks.resources if r.typ.endswith("ExposedSchemas")]
    assert [r.inputs["schemas"] for r in exposed] == [["public"]]
    assert "token" in exposed[0].secret_inputs


PROJECT = {
    "pooler": {"poolMode": "transaction", "defaultPoolSize": 25},
    "sslEnforcement": True,
    "networkRestrictions": {"allowedCidrs": ["203.0.113.0/24"]},
}


def test_project_settings_are_resources_on_a_supabase_project(
    pulumi_mocks: RecordingMocks,
) -> None:
    configure(
        {
            "target": "supabase",
            "projectRef": "abcdefghijklmnopqrst",
            "database": {"host": "db.abcdefghijklmnopqrst.supabase.co"},
            "dbPassword": "pw",
            "accessToken": "tok",
            "project": PROJECT,
        },
        secret_keys=["dbPassword", "accessToken"],
    )

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        return run_program().urn

    program()
    settings = {
        r.inputs["kind"]: r for r in pulumi_mocks.resources if r.typ.endswith("ProjectSetting")
    }
    assert {kind: r.inputs["value"] for kind, r in settings.items()} == {
        "pooler": {"pool_mode": "transaction", "default_pool_size": 25},
        "ssl_enforcement": {"database": True},
        "network_restrictions": {"dbAllowedCidrs": ["203.0.113.0/24"], "dbAllowedCidrsV6": []},
    }
    assert all("token" in r.secret_inputs for r in settings.values())


def test_project_settings_are_not_applicable_on_the_local_target(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    LocalCredentials.generate().save(tmp_path / "credentials.json")
    configure({"target": "local", "local": {"stateDir": str(tmp_path)}, "project": PROJECT})

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        return run_program().urn

    program()
    assert not [r for r in pulumi_mocks.resources if r.typ.endswith("ProjectSetting")]


def _waits_for(resources: list[Registered]) -> dict[str, set[str]]:
    """What each resource cannot start before, by URN: its dependencies and theirs, and its
    parent's (a child registers only once its parent's URN resolves, which waits for them)."""
    by_urn = {r.urn: r for r in resources}
    memo: dict[str, set[str]] = {}

    def of(urn: str) -> set[str]:
        if urn not in memo:
            memo[urn] = set()
            r = by_urn.get(urn)
            if r is not None:
                for d in r.dependencies:
                    memo[urn] |= {d} | of(d)
                memo[urn] |= of(r.parent)
        return memo[urn]

    return {urn: of(urn) for urn in by_urn}


def test_nothing_reaches_the_database_while_its_settings_may_restart_it(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    """Applying `postgresSettings` restarts the server for settings read only at start: a
    resource that connected meanwhile would fail (a Vault secret did, in a bench's deploy)."""
    LocalCredentials.generate().save(tmp_path / "credentials.json")
    configure(
        {
            "target": "local",
            "local": {"stateDir": str(tmp_path)},
            "apps": ["bidding", "events", "personalized", "observai", "billing"],
            "postgresSettings": {"max_connections": "200", "work_mem": "16MB"},
        }
    )

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        return run_program().urn

    program()
    settings = one(pulumi_mocks, "pulumi-python:dynamic/database:PostgresSettings")
    waits = _waits_for(pulumi_mocks.resources)
    reaching = [
        r
        for r in pulumi_mocks.resources
        if r is not settings and ("conninfo" in r.inputs or r.typ.startswith("postgresql:index/"))
    ]
    assert len(reaching) > 100  # every app's migrations, grants, jobs, Vault secrets, ...
    assert [r.name for r in reaching if settings.urn not in waits[r.urn]] == []
