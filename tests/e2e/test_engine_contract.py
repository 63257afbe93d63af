"""The engine contract: the real Pulumi engine (the CLI built from the Go module proxy by
``supastack.local.go_tools``) runs a small program of supastack's dynamic resources (a Vault
secret, a migration, a seed, a cron job, row level security and a policy, a realtime
publication's tables, a function, function secrets) against a local target, through the SDK's own
dynamic-provider plugin, on a file backend with a passphrase secrets provider; the offline
applier runs the same program beside it, and both must plan and keep the same things. (It found
that a migration and a seed applied at once, as the engine's parallelism does, raced to create
``supabase_migrations``: ``supastack.migrations.history.create_schema``.)

The Python language host and the postgresql and random provider plugins are not served by the
Go module proxy, so the engine runs the program inline (the Automation API serves the language
runtime from this process, as ``pulumi up`` would from ``pulumi-language-python``), and the
program holds dynamic resources only."""

from __future__ import annotations

import hashlib
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
from supastack.config.settings import MigrationSettings
from supastack.local.go_tools import ensure_pulumi_engine
from tests.conftest import Services, project_file

PROGRAM = """
import pulumi

from components.providers.cron_job import CronJob
from components.providers.edge_function import EdgeFunction
from components.providers.migration import Migration
from components.providers.function_secrets import FunctionSecrets
from components.providers.publication import PublicationTables
from components.providers.rls import RlsPolicy, RowLevelSecurity
from components.providers.seed_data import SeedData
from components.providers.vault_secret import VaultSecret

case = pulumi.Config("contract").require_object("case")
prefix = case["prefix"]
conninfo = pulumi.Output.secret(case["conninfo"])
token = VaultSecret(f"{prefix}-token", {
    "conninfo": conninfo, "name": f"{prefix}_token", "value": pulumi.Output.secret(case["token"]),
    "description": "the contract test's token",
})
seed = SeedData(f"{prefix}-seed", {
    "conninfo": conninfo, "app": "contract", "name": prefix, "source": f"seeds/{prefix}.sql",
    "checksum": case["seed_checksum"], "sql": case["seed_sql"],
})
job = CronJob(f"{prefix}-job", {
    "conninfo": conninfo, "name": f"{prefix}-job", "schedule": case["schedule"],
    "command": "select 1", "database": "postgres", "active": True,
}, pulumi.ResourceOptions(depends_on=[token, seed]))
Migration(f"{prefix}-migration", {
    "conninfo": conninfo, "app": f"contract_{prefix}", "version": case["version"],
    "name": "items", "source": f"migrations/contract/{case['version']}_items.sql",
    "checksum": case["migration_checksum"], "sql": case["migration_sql"],
    "down_sql": case["migration_down_sql"], "destructive": False, "down_destructive": True,
    "options": case["migration_options"], "backups": None,
})
table = {"conninfo": conninfo, "schema": "public", "table": f"{prefix}_seeded"}
after_seed = pulumi.ResourceOptions(depends_on=[seed])
rls = RowLevelSecurity(f"{prefix}-rls", table, after_seed)
RlsPolicy(f"{prefix}-policy", {
    **table, "name": "members read", "command": "select", "roles": ["authenticated"],
    "mode": "permissive", "using": "true", "with_check": None,
}, pulumi.ResourceOptions(depends_on=[rls]))
PublicationTables(f"{prefix}-realtime", {
    "conninfo": conninfo, "publication": "supabase_realtime",
    "tables": [["public", f"{prefix}_seeded"]],
}, after_seed)
EdgeFunction(f"{prefix}-fn-hello", {
    "api": case["api"], "token": pulumi.Output.secret(case["api_token"]),
    "functions_url": case["functions_url"], "app": "contract", "slug": f"{prefix}-hello",
    "hash": case["function_hash"], "verify_jwt": False,
    "verify_jwt_off_reason": "the contract test calls it without a token",
    "files": case["function_files"],
})
FunctionSecrets(f"{prefix}-function-secrets", {
    "api": case["api"], "token": pulumi.Output.secret(case["api_token"]),
    "values": pulumi.Output.secret({f"CONTRACT_{prefix.upper()}_KEY": case["token"]}),
})


class Platform:
    outputs = {"job": job.id, "secret": token.id}


platform = Platform()
"""

TOKEN = "contract-token-f3b1c2d4e5"  # a test value, looked for in the state


def _case(services: Services, prefix: str, schedule: str = "*/5 * * * *") -> dict[str, Any]:
    sql = f"create table if not exists public.{prefix}_seeded (n int);\n"
    migration = f"create table public.{prefix}_items (id bigint primary key);\n"
    return {
        "prefix": prefix, "conninfo": services.dsn(), "token": TOKEN, "schedule": schedule,
        "seed_sql": sql, "seed_checksum": hashlib.sha256(sql.encode()).hexdigest(),
        "api": {"url": services.runtime_url, "project_ref": services.credentials.project_ref},
        "api_token": services.credentials.access_token,
        "version": VERSIONS[prefix], "migration_sql": migration,
        "migration_checksum": hashlib.sha256(migration.encode()).hexdigest(),
        "migration_down_sql": f"drop table public.{prefix}_items;\n",
        "migration_options": MigrationSettings().model_dump(by_alias=True),
        "functions_url": services.runtime_url,
        "function_files": {f"contract/{prefix}-hello/index.ts": FUNCTION},
        "function_hash": hashlib.sha256(FUNCTION.encode()).hexdigest(),
    }  # fmt: skip


FUNCTION = 'Deno.serve(() => new Response("hello from the engine contract"));\n'
#: Migration versions are unique across apps.
VERSIONS = {"engine": "20990101000001", "applier": "20990101000002"}
#: What the program declares, and the stack resource the engine adds.
RESOURCES = 9
STACK_AND_RESOURCES = RESOURCES + 1


@pytest.fixture(scope="module")
def project(fresh: Services, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with fresh.connect() as conn:  # what the stack's postgresql.Extension makes (no plugin here)
        conn.execute("create extension if not exists pg_cron")
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
    assert sorted(s.name.split("-", 1)[1] for s in applier_plan.changes if s.op == "create") == [
        "fn-hello", "function-secrets", "job", "migration", "policy", "realtime", "rls", "seed",
        "token",
    ]  # fmt: skip

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
