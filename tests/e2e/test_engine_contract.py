"""The engine contract: the real Pulumi engine (the CLI built from the Go module proxy by
``supastack.local.go_tools``) runs a small program of one resource of every dynamic kind
supastack has (``components.providers.catalog``: migration, seed, Vault secret, cron job, RLS
and a policy, realtime publication tables, function, function secrets, feature flag, alert
channel and rule, partition set, materialized view refresh, Postgres settings, a project
setting, exposed schemas, Realtime limits) against a local target, through the SDK's own
dynamic-provider plugin, on a file backend with a passphrase secrets provider; the offline
applier runs the same program beside it, and both must plan and keep the same things. (It found
that a migration and a seed applied at once, as the engine's parallelism does, raced to create
``supabase_migrations``: ``supastack.migrations.history.create_schema``.)

The Python language host and the postgresql and random provider plugins are not served by the
Go module proxy, so the engine runs the program inline (the Automation API serves the language
runtime from this process, as ``pulumi up`` would from ``pulumi-language-python``), and the
program holds dynamic resources only."""

from __future__ import annotations

import json
import os
import runpy
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pulumi
import pytest
from pulumi import automation as auto

from applier.engine import deploy, preview
from supastack.local.go_tools import ensure_pulumi_engine
from tests.conftest import Services, project_file
from tests.core.conftest import apply_monitoring

PROGRAM = """
from decimal import Decimal

import pulumi

from components.providers.operations.alerts import (
    AlertChannel, AlertChannelProps, AlertRule, AlertRuleProps,
)
from components.providers.operations.cron import CronJob, CronJobProps
from components.providers.functions.edge_function import EdgeFunction, EdgeFunctionProps
from components.providers.database.exposed_schemas import ExposedSchemas, ExposedSchemasProps
from components.providers.flags.feature_flags import FeatureFlag, FeatureFlagProps
from components.providers.functions.function_secrets import FunctionSecrets, FunctionSecretsProps
from components.providers.database.matviews import (
    MaterializedViewRefresh, MaterializedViewRefreshProps,
)
from components.providers.migrations.migration import Migration, MigrationProps
from components.providers.database.partitions import PartitionSet, PartitionSetProps
from components.providers.database.settings import PostgresSettings, PostgresSettingsProps
from components.providers.database.project_settings import ProjectSetting, ProjectSettingProps
from components.providers.database.publication import PublicationTables, PublicationTablesProps
from components.providers.database.realtime import RealtimeConfig, RealtimeConfigProps
from components.providers.database.rls import (
    RlsPolicy, RlsPolicyProps, RowLevelSecurity, RowLevelSecurityProps,
)
from components.providers.migrations.seeds import SeedData, SeedDataProps
from components.providers.database.vault import VaultSecret, VaultSecretProps
from supastack.config.settings import MigrationSettings
from supastack.database import rls as policies
from supastack.database.matviews import Refresh
from supastack.database.partitions import PartitionSet as Partitions
from supastack.flags.store import Flag
from supastack.functions.packaging import FunctionPackage
from supastack.migrations.files import MigrationFile
from supastack.migrations.seeds import SeedFile
from supastack.operations import alerts, cron

case = pulumi.Config("contract").require_object("case")
prefix = case["prefix"]
conninfo = pulumi.Output.secret(case["conninfo"])
api, api_token = case["api"], pulumi.Output.secret(case["api_token"])


def after(*resources):
    return pulumi.ResourceOptions(depends_on=list(resources))


settings = PostgresSettings(f"{prefix}-settings", PostgresSettingsProps.for_values(
    conninfo, None, None, {"target": "local", "local": case["local"]}, case["settings"],
))
token = VaultSecret(f"{prefix}-token", VaultSecretProps.for_secret(
    conninfo, f"{prefix}_token", pulumi.Output.secret(case["token"]), "the contract's token",
))
seed = SeedData(f"{prefix}-seed", SeedDataProps.for_seed(
    conninfo, SeedFile("contract", prefix, f"seeds/{prefix}.sql", case["seed_sql"]),
))
job = CronJob(f"{prefix}-job", CronJobProps.for_job(
    conninfo, cron.Job(f"{prefix}-job", case["schedule"], "select 1", "postgres", True), False,
), after(token, seed))
migration = Migration(f"{prefix}-migration", MigrationProps.for_file(
    conninfo,
    MigrationFile(f"contract_{prefix}", case["version"], "items",
                  f"migrations/contract/{case['version']}_items.sql", case["migration_sql"],
                  case["migration_down_sql"]),
    MigrationSettings(), None,
), after(settings))
table = f"{prefix}_seeded"
rls = RowLevelSecurity(
    f"{prefix}-rls", RowLevelSecurityProps.for_table(conninfo, "public", table), after(seed)
)
RlsPolicy(f"{prefix}-policy", RlsPolicyProps.for_policy(conninfo, policies.Policy(
    "public", table, "members read", "select", ("authenticated",), "permissive", "true",
), False), after(rls))
PublicationTables(f"{prefix}-realtime", PublicationTablesProps.for_tables(
    conninfo, "supabase_realtime", "public", [table],
), after(seed))
function = FunctionPackage("contract", f"{prefix}-hello", False, {
    f"contract/{prefix}-hello/index.ts": case["function"].encode(),
})
EdgeFunction(f"{prefix}-fn-hello", EdgeFunctionProps.for_package(
    api, api_token, case["functions_url"], function,
    "the contract test calls it without a token",
))
FunctionSecrets(f"{prefix}-function-secrets", FunctionSecretsProps.for_values(
    api, api_token, pulumi.Output.secret({f"CONTRACT_{prefix.upper()}_KEY": case["token"]}),
))
flag = FeatureFlag(f"{prefix}-flag", FeatureFlagProps.for_flag(conninfo, Flag(
    f"{prefix}_contract", "contract", "the contract's flag", True, Decimal("12.5"), ("u1",),
)))
channel = AlertChannel(f"{prefix}-channel", AlertChannelProps.for_channel(conninfo, alerts.Channel(
    f"{prefix}-channel", "webhook", f"{prefix}_token", "https://hooks.example.com/contract",
    ("warning",),
)), after(token))
AlertRule(f"{prefix}-alert", AlertRuleProps.for_rule(conninfo, alerts.Rule(
    f"{prefix}-alert", "warning", f"select count(*) from public.{table}", ">", 100.0,
    "5 minutes", "0", "1 hour", (f"{prefix}-channel",),
)), after(channel, seed))
PartitionSet(f"{prefix}-partitions", PartitionSetProps.for_partitions(conninfo, Partitions(
    "public", f"{prefix}_events", "at", "1 day", 2,
)), after(migration))
MaterializedViewRefresh(f"{prefix}-refresh", MaterializedViewRefreshProps.for_refresh(
    conninfo, conninfo, source="apps/contract.yaml",
    refresh=Refresh("public", f"{prefix}_totals"),
    job=cron.Job(f"{prefix}-refresh", "0 * * * *",
                 Refresh("public", f"{prefix}_totals").command, "postgres", True),
    adopt=False,
), after(migration))
ExposedSchemas(f"{prefix}-exposed", ExposedSchemasProps.for_schemas(
    api, api_token, [f"{prefix}_api"],
))
ProjectSetting(f"{prefix}-pooler", ProjectSettingProps.for_setting(
    api, api_token, "pooler", {"pool_mode": "transaction", "default_pool_size": 20},
))
RealtimeConfig(f"{prefix}-realtime-config", RealtimeConfigProps.for_limits(
    api, api_token, {"max_concurrent_users": 300},
))


class Platform:
    outputs = {"job": job.id, "secret": token.id, "flag": flag.id}


platform = Platform()
"""

TOKEN = "contract-token-f3b1c2d4e5"  # a test value, looked for in the state


def _case(services: Services, prefix: str, schedule: str = "*/5 * * * *") -> dict[str, Any]:
    migration = (
        f"create table public.{prefix}_items (id bigint primary key);\n"
        f"create table public.{prefix}_events (at timestamptz not null, n int)"
        " partition by range (at);\n"
        f"create materialized view public.{prefix}_totals as select 1 as n;\n"
    )
    return {
        "prefix": prefix, "conninfo": services.dsn(), "token": TOKEN, "schedule": schedule,
        "seed_sql": f"create table if not exists public.{prefix}_seeded (n int);\n",
        "api": {"url": services.runtime_url, "project_ref": services.credentials.project_ref},
        "api_token": services.credentials.access_token,
        "version": VERSIONS[prefix], "migration_sql": migration,
        "migration_down_sql": (f"drop materialized view public.{prefix}_totals;\n"
                               f"drop table public.{prefix}_events, public.{prefix}_items;\n"),
        "functions_url": services.runtime_url, "function": FUNCTION,
        "local": {"state_dir": str(services.env.state_dir), "port": services.env.db_port},
        "settings": SETTINGS[prefix],
    }  # fmt: skip


FUNCTION = 'Deno.serve(() => new Response("hello from the engine contract"));\n'
#: Migration versions are unique across apps.
VERSIONS = {"engine": "20990101000001", "applier": "20990101000002"}
#: Server settings of each run (reloaded, no restart), apart so that neither undoes the other.
SETTINGS = {"engine": {"work_mem": "5MB"}, "applier": {"maintenance_work_mem": "96MB"}}
#: What the program declares (one resource of every dynamic kind), and the engine's stack.
KINDS = [
    "alert",
    "channel",
    "exposed",
    "flag",
    "fn-hello",
    "function-secrets",
    "job",
    "migration",
    "partitions",
    "policy",
    "pooler",
    "realtime",
    "realtime-config",
    "refresh",
    "rls",
    "seed",
    "settings",
    "token",
]
RESOURCES = len(KINDS)
STACK_AND_RESOURCES = RESOURCES + 1


@pytest.fixture(scope="module")
def project(fresh: Services, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # what the stack's postgresql.Extension resources and the monitoring app make (no plugin
    # here for the first; the second holds the tables flags and alert rules live in)
    with fresh.connect() as conn:
        conn.execute("create extension if not exists pg_cron")
    apply_monitoring(fresh.dsn())
    with fresh.connect() as conn:
        conn.execute("create schema if not exists partman")
        conn.execute("create extension if not exists pg_partman schema partman")
    root = tmp_path_factory.mktemp("contract")
    (root / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    project_file(root)
    return root


@pytest.fixture(scope="module")
def engine_stack(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[auto.Stack]:
    engine = ensure_pulumi_engine()
    home = tmp_path_factory.mktemp("pulumi")
    (home / "state").mkdir()
    (home / "work").mkdir()  # the inline program's project, apart from the applier's
    env = {
        "PULUMI_CONFIG_PASSPHRASE": "contract-passphrase",
        "PULUMI_BACKEND_URL": f"file://{home / 'state'}",
        "PULUMI_HOME": str(home / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        # the engine launches the dynamic-provider plugin, which runs this Python
        "PATH": f"{engine.bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PULUMI_PYTHON_CMD": sys.executable,
    }

    def program() -> None:
        platform = runpy.run_path(str(project / "__main__.py"))["platform"]
        for key, value in platform.outputs.items():
            pulumi.export(key, value)

    stack = auto.create_or_select_stack(
        "contract", project_name="supastack", program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(home / "work"), env_vars=env, pulumi_home=str(home / "home"),
            pulumi_command=auto.PulumiCommand(root=str(engine.bin_dir.parent)),
        ),
    )  # fmt: skip
    yield stack
    stack.destroy()


def _configure(stack: auto.Stack, case: dict[str, Any]) -> None:
    stack.set_config("contract:case", auto.ConfigValue(json.dumps(case), secret=True))


def _job(services: Services, name: str) -> tuple[Any, ...] | None:
    with services.connect() as conn:
        return conn.execute(
            "select schedule, active from cron.job where jobname = %s", [name]
        ).fetchone()


def _state_resources(stack: auto.Stack) -> dict[str, dict[str, Any]]:
    deployment = stack.export_stack().deployment
    assert deployment is not None
    resources = deployment["resources"]
    return {
        r["urn"].rsplit("::", 1)[-1]: r
        for r in resources
        if r.get("custom") and not r["type"].startswith("pulumi:providers:")
    }


def _secret_keys(outputs: dict[str, Any]) -> set[str]:
    sig = "4dabf18193072939515e22adb298388d"
    return {k for k, v in outputs.items() if isinstance(v, dict) and sig in v}


def test_the_engine_and_the_applier_plan_and_keep_the_same_things(
    fresh: Services, project: Path, engine_stack: auto.Stack
) -> None:
    engine_case, applier_case = _case(fresh, "engine"), _case(fresh, "applier")
    _configure(engine_stack, engine_case)
    planned = engine_stack.preview(diff=True)
    assert planned.change_summary == {"create": STACK_AND_RESOURCES}
    applier_plan = preview({"contract:case": json.dumps(applier_case)}, project=project)
    planned_kinds = [s.name.split("-", 1)[1] for s in applier_plan.changes if s.op == "create"]
    assert sorted(planned_kinds) == KINDS

    up = engine_stack.up()
    assert up.summary.resource_changes == {"create": STACK_AND_RESOURCES}
    assert _job(fresh, "engine-job") == ("*/5 * * * *", True)
    served = httpx.get(f"{fresh.runtime_url}/functions/v1/engine-hello", timeout=30)
    assert (served.status_code, served.text) == (200, "hello from the engine contract")
    records = deploy({"contract:case": json.dumps(applier_case)}, project=project, seed=1)
    assert _job(fresh, "applier-job") == ("*/5 * * * *", True)

    # the same resources, the same output keys, the same ones secret (the engine's state holds
    # them as ciphertext under the passphrase; the applier's records seal the same ones)
    state = _state_resources(engine_stack)
    applied = {a.name: a for a in records.mocks.records() if a.provider is not None}
    assert sorted(state) == sorted(n.replace("applier", "engine") for n in applied)
    # keyed as the engine keys them: the same URNs but for the stack's name
    assert sorted(r["urn"].split("::", 2)[2] for r in state.values()) == sorted(
        a.urn.split("::", 2)[2].replace("applier", "engine") for a in applied.values()
    )
    for name, resource in state.items():
        twin = applied[name.replace("engine", "applier")]
        outputs = resource["outputs"]
        assert sorted(outputs) == sorted([*twin.outputs, "__provider"]), name
        # __provider too: the SDK makes it secret always; the applier seals it in its records
        assert _secret_keys(outputs) == {*twin.secrets, "__provider"}, name
    backend = Path(engine_stack.workspace.env_vars["PULUMI_BACKEND_URL"].removeprefix("file://"))
    [checkpoint] = backend.rglob("contract.json")  # the state as the engine keeps it on disk
    assert "4dabf18193072939515e22adb298388d" in checkpoint.read_text()
    secrets = (("token", TOKEN), ("conninfo", fresh.dsn()),
               ("access token", fresh.credentials.access_token))  # fmt: skip
    leaked = [name for name, value in secrets if value in checkpoint.read_text()]
    assert leaked == []


def test_an_edit_is_previewed_then_applied_and_refresh_finds_a_hand_edit(
    fresh: Services, engine_stack: auto.Stack
) -> None:
    _configure(engine_stack, _case(fresh, "engine", schedule="*/10 * * * *"))
    planned = engine_stack.preview(diff=True)
    assert planned.change_summary == {"update": 1, "same": RESOURCES}
    assert "schedule" in planned.stdout
    assert engine_stack.up().summary.resource_changes == {"update": 1, "same": RESOURCES}
    assert _job(fresh, "engine-job") == ("*/10 * * * *", True)
    engine_stack.refresh(expect_no_changes=True)  # raises if the refresh finds any change

    with fresh.connect() as conn:  # a hand edit in the dashboard
        conn.execute("select cron.alter_job(jobid, schedule := '0 3 * * *') from cron.job "
                     "where jobname = 'engine-job'")  # fmt: skip
    refreshed = engine_stack.refresh()
    assert refreshed.summary.resource_changes == {"update": 1, "same": RESOURCES}
    state = _state_resources(engine_stack)
    assert state["engine-job"]["outputs"]["schedule"] == "0 3 * * *"
    assert engine_stack.up().summary.resource_changes == {
        "update": 1,
        "same": RESOURCES,
    }  # put back
    assert _job(fresh, "engine-job") == ("*/10 * * * *", True)


def test_destroy_removes_what_the_engine_made(fresh: Services, engine_stack: auto.Stack) -> None:
    engine_stack.destroy()
    assert _job(fresh, "engine-job") is None
    with fresh.connect() as conn:
        found = conn.execute("select count(*) from vault.secrets where name = 'engine_token'")
        assert found.fetchone() == (0,)
