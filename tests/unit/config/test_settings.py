"""Stack settings: the committed stack files load, and every bad value is named precisely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from supastack.config import settings
from supastack.config.settings import Target
from supastack.errors import SupastackError
from supastack.targets import target_for

PROJECT_DIR = Path(__file__).resolve().parents[3]
SECURE = {"secure": "v1:AAAA"}


def parse(**config: Any) -> settings.StackSettings:
    raw = {"supastack:target": "supabase", "supastack:projectRef": "abcdefghijklmnopqrst"}
    raw.update({f"supastack:{k}": v for k, v in config.items()})
    return settings.parse("prod", raw, "Pulumi.prod.yaml")


def error_of(**config: Any) -> str:
    with pytest.raises(SupastackError) as info:
        parse(**config)
    return str(info.value)


@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_committed_stack_files_load(stack: str) -> None:
    loaded = settings.load(PROJECT_DIR, stack)
    assert loaded.stack == stack and loaded.source == f"Pulumi.{stack}.yaml"


def test_local_stack_is_the_embedded_target_on_supabase_local_ports() -> None:
    local = settings.load(PROJECT_DIR, "local")
    assert local.target is Target.LOCAL
    assert (local.local.db_port, local.local.runtime_port) == (54322, 54321)
    target = target_for(local, PROJECT_DIR)
    assert target.functions_url == target.management_api_url == "http://127.0.0.1:54321"
    assert target.pg_cron == "1.4.2" and target.seeds_enabled
    assert local.missing_secrets() == []


def test_prod_protects_and_names_its_unset_secrets() -> None:
    prod = settings.load(PROJECT_DIR, "prod")
    target = target_for(prod, PROJECT_DIR)
    assert prod.protect is True and target.pg_cron == "1.6" and not target.seeds_enabled
    assert target.functions_url == "https://prodprojectrefxxxxxx.supabase.co"
    missing = prod.missing_secrets()
    assert any("supastack:dbPassword is not set" in m and "--stack prod" in m for m in missing)
    assert any("--path 'supastack:secretValues.PAGERDUTY_ROUTING_KEY'" in m for m in missing)


def test_secure_values_count_as_set_without_entering_the_model() -> None:
    loaded = parse(
        dbPassword=SECURE,
        accessToken=SECURE,
        secretValues={"HOOK": SECURE},
        alertChannels={"ops": {"type": "slack", "secret": "HOOK"}},
    )
    assert loaded.missing_secrets() == []
    assert "v1:AAAA" not in repr(loaded)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"target": "cloud"}, "Pulumi.prod.yaml: supastack:target: Input should be 'local' or"),
        ({"projectRef": "short"}, "Pulumi.prod.yaml: supastack:projectRef: the supabase target"),
        ({"database": {"port": 6543}}, "supastack:database: port 6543 is Supabase's transaction"),
        ({"database": {"port": 70000}}, "supastack:database.port: Input should be less than"),
        ({"database": {"sslmode": "off"}}, "supastack:database.sslmode:"),
        ({"migrations": {"lockTimeout": "soon"}}, "supastack:migrations.lockTimeout: 'soon'"),
        ({"apps": ["Bidding"]}, "supastack:apps: 'Bidding' is not an app name"),
        ({"apps": ["a", "a"]}, "supastack:apps: an app is listed twice"),
        ({"functionSecrets": ["SUPABASE_KEY"]}, "supastack:functionSecrets.0: 'SUPABASE_KEY'"),
        ({"backups": {"enabled": True}}, "supastack:backups.bucket: backups on the supabase"),
        ({"backups": {"sse": "aws:kms"}}, "supastack:backups: sse 'aws:kms' needs kmsKeyId"),
        (
            {"alertChannels": {"x": {"type": "sms", "secret": "S"}}},
            "supastack:alertChannels.x.type:",
        ),
        ({"dbPasword": SECURE}, "supastack:dbPasword: is not a known key (misspelt?)"),
        ({"local": {"dbPort": 80}}, "supastack:local.dbPort: Input should be greater than"),
    ],
)
def test_bad_values_name_the_file_and_key(config: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**config)


def test_missing_target_is_required() -> None:
    with pytest.raises(SupastackError, match=r"Pulumi.x.yaml: supastack:target: is required"):
        settings.parse("x", {}, "Pulumi.x.yaml")


@pytest.mark.parametrize("key", ["dbPassword", "accessToken"])
def test_plaintext_secret_is_refused_without_echoing_it(key: str) -> None:
    message = error_of(**{key: "hunter2-plaintext"})
    assert f"supastack:{key} must be a secret" in message
    assert f"pulumi config set --secret supastack:{key}" in message
    assert "hunter2" not in message


def test_plaintext_secret_value_is_refused_without_echoing_it() -> None:
    message = error_of(secretValues={"SLACK_WEBHOOK_URL": "https://hooks.example/x"})
    assert "supastack:secretValues.SLACK_WEBHOOK_URL must be a secret" in message
    assert "hooks.example" not in message


def test_other_namespaces_are_ignored() -> None:
    assert parse(**{"postgresql:host": "x"}).target is Target.SUPABASE


def test_missing_stack_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        SupastackError, match=r"no such stack 'nope': there is no Pulumi.nope.yaml in "
    ):
        settings.load(tmp_path, "nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("config: [unclosed", "not valid YAML"), ("other: 1", "expected a top-level 'config:'")],
)
def test_broken_stack_file_is_named(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "Pulumi.bad.yaml").write_text(text)
    with pytest.raises(SupastackError, match=rf"Pulumi.bad.yaml: {expected}"):
        settings.load(tmp_path, "bad")
