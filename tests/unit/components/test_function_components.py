"""Functions and secrets in the resource graph (mocks): what deploys, in which order, and
that every secret input stays a Pulumi secret."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pulumi.runtime import rpc

from applier.errors import plain
from supastack.errors import SupastackError
from supastack.local.paths import PROJECT_DIR
from tests.unit.conftest import RecordingMocks, deploy_platform, make_project, one

MANIFEST = """\
functions:
  hello:
    rateLimit: {requests: 10, perSeconds: 60}
    env: {MODE: strict}
  tick: {verifyJwt: false}
secrets:
  - {name: JOB_SECRET, generate: true, vault: true}
  - {name: API_KEY}
  - {name: SENTRY_DSN, optional: true}
"""
CHANNELS = {"ops-hook": {"type": "webhook", "secret": "OPS_HOOK_URL"}}
SOURCE = (
    'import { json, serve } from "../../_shared/mod.ts";\n'
    "serve(import.meta.url, {}, () => json(200, {}));\n"
)


def _project(tmp_path: Path) -> Path:
    root = make_project(tmp_path, MANIFEST, {"1_items.sql": "select 1;\n"})
    shutil.copytree(PROJECT_DIR / "functions" / "_shared", root / "functions" / "_shared")
    for slug in ("hello", "tick"):
        (root / "functions" / "shop" / slug).mkdir(parents=True)
        (root / "functions" / "shop" / slug / "index.ts").write_text(SOURCE)
    return root


def test_functions_deploy_after_migrations_and_secrets_with_secret_tokens(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    deploy_platform(_project(tmp_path), secret_values={"API_KEY": "k-123"})
    hello = one(pulumi_mocks, "pulumi-python:dynamic/functions:EdgeFunction", "fn-hello")
    tick = one(pulumi_mocks, "pulumi-python:dynamic/functions:EdgeFunction", "fn-tick")
    secrets = one(pulumi_mocks, "pulumi-python:dynamic/functions:FunctionSecrets")
    migration = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration", "shop-")

    assert (hello.inputs["verify_jwt"], tick.inputs["verify_jwt"]) == (True, False)
    assert sorted(hello.inputs["files"]) == [
        "_shared/auth.ts", "_shared/body.ts", "_shared/cached.ts", "_shared/config.ts",
        "_shared/cors.ts",
        "_shared/db.ts", "_shared/drains.ts", "_shared/errors.ts", "_shared/flags.ts",
        "_shared/handler.ts", "_shared/invocations.ts", "_shared/mod.ts",
        "_shared/ratelimit.ts", "_shared/validate.ts", "shop/hello/function.config.json",
        "shop/hello/index.ts",
    ]  # fmt: skip
    assert '"requests": 10' in hello.inputs["files"]["shop/hello/function.config.json"]
    assert '"maxBodyBytes": 1048576' in hello.inputs["files"]["shop/hello/function.config.json"]
    assert len(hello.inputs["hash"]) == 64 and hello.inputs["hash"] != tick.inputs["hash"]
    assert {secrets.urn, migration.urn} <= set(hello.dependencies)
    assert "token" in hello.secret_inputs and "token" in hello.additional_secret_outputs
    assert hello.inputs["api"]["project_ref"] == "local"

    assert "values" in secrets.secret_inputs and "values" in secrets.additional_secret_outputs


def test_generated_secrets_are_random_and_vault_ones_stored_as_secrets(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    deploy_platform(_project(tmp_path), secret_values={"API_KEY": "k-123"})
    password = one(pulumi_mocks, "random:index/randomPassword:RandomPassword", "JOB_SECRET")
    assert password.inputs["length"] == 40 and password.inputs["special"] is False
    stored = one(pulumi_mocks, "pulumi-python:dynamic/functions:VaultSecret")
    assert stored.inputs["name"] == "JOB_SECRET" and "value" in stored.secret_inputs
    assert not [r for r in pulumi_mocks.resources if "SENTRY_DSN" in r.name]  # optional, unset


def test_a_required_secret_that_is_not_set_names_the_command(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    command = "pulumi config set --secret --path 'supastack:secretValues.API_KEY' <value>"
    with pytest.raises(SupastackError, match=rf"secretValues.API_KEY is not set; run `{command}"):
        deploy_platform(_project(tmp_path))


def test_an_unknown_function_directory_is_named(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = _project(tmp_path)
    shutil.rmtree(root / "functions" / "shop" / "tick")
    with pytest.raises(
        SupastackError, match=r"function 'tick': functions/shop/tick/index.ts is missing"
    ):
        deploy_platform(root, secret_values={"API_KEY": "k"})


CRON = """\
cron:
  - {name: nightly-cleanup, schedule: "0 2 * * *", sql: "delete from shop.items where false"}
  - name: tick-every-minute
    schedule: "* * * * *"
    function: {slug: tick, body: {source: cron}}
"""


def test_cron_jobs_are_rendered_validated_and_ordered_after_their_functions(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = _project(tmp_path)
    (root / "apps" / "shop.yaml").write_text(MANIFEST + CRON)
    deploy_platform(root, secret_values={"API_KEY": "k"})
    sql_job = one(pulumi_mocks, "pulumi-python:dynamic/cron:CronJob", "nightly-cleanup")
    call = one(pulumi_mocks, "pulumi-python:dynamic/cron:CronJob", "tick-every-minute")
    tick = one(pulumi_mocks, "pulumi-python:dynamic/functions:EdgeFunction", "fn-tick")
    assert sql_job.inputs["command"] == "delete from shop.items where false"
    assert "vault.decrypted_secrets WHERE name = 'JOB_SECRET'" in call.inputs["command"]
    assert tick.urn in call.dependencies and "conninfo" in call.secret_inputs
    url = one(
        pulumi_mocks, "pulumi-python:dynamic/functions:VaultSecret", "supastack_functions_url"
    )
    assert url.inputs["value"] == "http://127.0.0.1:54321"


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ('cron: [{name: fast, schedule: "30 seconds", sql: "select 1"}]\n',
         r"cron job 'fast': schedule '30 seconds': second-level schedules need pg_cron 1.5"),
        ('cron: [{name: typo, schedule: "* * * * *", sql: "selec 1"}]\n',
         r"apps/shop.yaml: cron job 'typo':1: syntax error"),
        ('cron: [{name: ghost, schedule: "@daily", function: {slug: nope}}]\n',
         r"apps/shop.yaml: cron.0.function.slug: 'nope' is not one of this app's functions"),
        ('cron: [{name: leak, schedule: "@daily", function: {slug: tick, tokenSecret: API_KEY}}]\n',
         r"apps/shop.yaml: cron.0.function.tokenSecret: API_KEY is not a secret with `vault: "),
    ],
)  # fmt: skip
def test_bad_jobs_fail_the_preview_naming_the_job(
    pulumi_mocks: RecordingMocks, tmp_path: Path, cron: str, message: str
) -> None:
    _refused_before_anything(pulumi_mocks, tmp_path, cron, message)


def _refused_before_anything(
    mocks: RecordingMocks, tmp_path: Path, snippet: str, message: str
) -> None:
    """The manifest with ``snippet`` fails the preview with ``message`` before any resource."""
    root = _project(tmp_path)
    (root / "apps" / "shop.yaml").write_text(MANIFEST + snippet)
    secret_values = {"API_KEY": "k", "OPS_HOOK_URL": "u"}
    with pytest.raises(SupastackError, match=message):
        deploy_platform(root, secret_values=secret_values, alertChannels=CHANNELS)
    # checked before any resource is declared: nothing registered
    assert mocks.resources == []


ALERTS = """\
alerts:
  - name: hello-errors
    severity: critical
    metric: {functionErrorRate: hello}
    threshold: 0.05
    for: 5min
  - name: slow-hello
    severity: warning
    metric: {sql: "select monitoring.function_p95_ms('hello', $1)"}
    threshold: 500
    channels: [ops-hook]
"""


def test_alert_rules_and_channels_in_the_graph(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = _project(tmp_path)
    (root / "apps" / "shop.yaml").write_text(MANIFEST + ALERTS)
    deploy_platform(
        root, secret_values={"API_KEY": "k", "OPS_HOOK_URL": "https://hooks.example/x"},
        alertChannels=CHANNELS,
    )  # fmt: skip
    channel = one(pulumi_mocks, "pulumi-python:dynamic/alerts:AlertChannel")
    errors = one(pulumi_mocks, "pulumi-python:dynamic/alerts:AlertRule", "hello-errors")
    assert (channel.inputs["type"], channel.inputs["secret_name"]) == ("webhook", "OPS_HOOK_URL")
    assert errors.inputs["metric_sql"] == "SELECT monitoring.function_error_rate('hello', $1)"
    assert (errors.inputs["for_duration"], errors.inputs["channels"]) == ("5min", ["ops-hook"])
    assert channel.urn in errors.dependencies
    hook = one(pulumi_mocks, "pulumi-python:dynamic/functions:VaultSecret", "OPS_HOOK_URL")
    assert "value" in hook.secret_inputs
    secrets = one(pulumi_mocks, "pulumi-python:dynamic/functions:FunctionSecrets")
    evaluator = one(pulumi_mocks, "pulumi-python:dynamic/cron:CronJob", "evaluate-alerts")
    assert evaluator.inputs["command"] == "select monitoring.evaluate_alerts()"
    function_values = secrets.inputs["values"]
    while rpc._special_sig_key in function_values:  # unwrap the secret envelopes
        function_values = function_values["value"]
    # (JOB_SECRET's random value is unknown under mocks, so it is not in the dict)
    assert "API_KEY" in function_values and "OPS_HOOK_URL" not in function_values


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ("alerts: [{name: a, severity: critical, metric: {functionErrorRate: hello},\n"
         "  threshold: 1, channels: [pager]}]\n",
         r"apps/shop.yaml: alerts.0 \(a\): channel 'pager' is not in supastack:alertChannels "
         r"\(known: ops-hook\)"),
        ("alerts: [{name: b, severity: critical, metric: {sql: 'delete from x'}, threshold: 1}]\n",
         r"apps/shop.yaml: alerts.0 \(b\): metric.sql must be one SELECT"),
        ("alerts: [{name: c, severity: critical, metric: {sql: 'selec 1'}, threshold: 1}]\n",
         r"apps/shop.yaml: alerts.0 \(c\): metric:1: syntax error"),
        ("alerts: [{name: d, severity: loud, metric: {sql: 'select 1'}, threshold: 1}]\n",
         r"apps/shop.yaml: alerts.0.severity: "),
        ("alerts: [{name: e, severity: info, metric: {}, threshold: 1}]\n",
         r"apps/shop.yaml: alerts.0.metric: metric: give exactly one of"),
    ],
)  # fmt: skip
def test_bad_alert_rules_fail_the_preview(
    pulumi_mocks: RecordingMocks, tmp_path: Path, alerts: str, message: str
) -> None:
    _refused_before_anything(pulumi_mocks, tmp_path, alerts, message)


def test_realtime_limits_go_to_supabase_only(pulumi_mocks: RecordingMocks, tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "apps" / "shop.yaml").write_text(
        MANIFEST + "realtimeConfig: {maxConcurrentUsers: 1000}\n"
    )
    deploy_platform(root, secret_values={"API_KEY": "k"})
    assert not [r for r in pulumi_mocks.resources if r.typ.endswith("RealtimeConfig")]  # local


def test_an_app_with_functions_and_rules_waits_for_the_monitoring_migrations(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    """Its functions write invocation rows and its rules are rows in monitoring's tables: with
    no alert channel configured, nothing else would order them after monitoring's migrations."""
    root = _project(tmp_path)
    no_channels = ALERTS.replace("    channels: [ops-hook]\n", "")
    (root / "apps" / "shop.yaml").write_text(MANIFEST + no_channels)
    deploy_platform(root, secret_values={"API_KEY": "k"})
    shop = one(pulumi_mocks, "supastack:app:App", "supastack-shop")
    monitoring = [
        r.urn
        for r in pulumi_mocks.resources
        if r.typ.endswith("migrations:Migration") and r.inputs["app"] == "monitoring"
    ]
    assert monitoring and set(monitoring) <= set(shop.dependencies)


def test_an_app_asking_for_redis_gets_the_local_targets_redis_url(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = make_project(tmp_path, "redis: true\n", {"1_items.sql": "select 1;\n"})
    deploy_platform(root, local={"stateDir": str(tmp_path / "state"), "redisPort": 54399})
    secrets = one(pulumi_mocks, "pulumi-python:dynamic/functions:FunctionSecrets")
    assert "values" in secrets.secret_inputs
    url = plain(secrets.inputs["values"])["REDIS_URL"]
    assert url.startswith("redis://:") and url.endswith("@127.0.0.1:54399/0")


def test_without_an_app_asking_for_redis_there_is_no_redis_url(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    deploy_platform(make_project(tmp_path, "{}\n", {"1_items.sql": "select 1;\n"}))
    found = [r for r in pulumi_mocks.resources if r.typ.endswith("FunctionSecrets")]
    assert all("REDIS_URL" not in plain(r.inputs["values"]) for r in found)
