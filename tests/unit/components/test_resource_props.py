"""The typed properties of the dynamic resources: what the program declares is what each
provider reads (a property forgotten on either side fails here, not in a deploy)."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import dill  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from applier.errors import plain
from components.providers import MOVED
from components.providers.base import TypedProvider
from components.providers.catalog import RESOURCES, all_secret_fields
from components.providers.database.rls import RlsPolicyProps
from components.providers.database.vault import VaultSecretProps
from components.providers.functions.edge_function import EdgeFunctionProps
from components.providers.operations.cron import CronJob, CronJobProps, CronJobProvider
from policy.validators import SECRET_PROPERTIES
from supastack.operations.cron import Job
from supastack.resource_props import ResourceProps
from tests.unit.conftest import RecordingMocks, deploy_platform, make_project

MANIFEST = """\
rls: [items]
cron: [{name: nightly, schedule: '0 2 * * *', sql: select 1}]
secrets: [{name: JOB_SECRET, generate: true, vault: true}]
alerts: [{name: backlog, severity: warning, metric: {sql: select 1}, threshold: 1}]
"""


def test_every_dynamic_resource_of_the_program_has_the_properties_its_provider_reads(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = make_project(tmp_path, MANIFEST, {"1_x.sql": "select 1;\n"})
    deploy_platform(root)
    dynamic = [r for r in pulumi_mocks.resources if r.typ.startswith("pulumi-python:dynamic/")]
    assert {r.typ.rsplit(":", 1)[-1] for r in dynamic} >= {
        "Migration", "RowLevelSecurity", "CronJob", "AlertRule", "VaultSecret", "FunctionSecrets",
    }  # fmt: skip
    for resource in dynamic:
        inputs = plain(resource.inputs)
        provider = dill.loads(base64.b64decode(inputs.pop("__provider")))  # noqa: S301 (ours)
        assert isinstance(provider, TypedProvider)
        provider.props_type.of(inputs)  # raises naming what is missing or wrong


def test_a_missing_or_wrong_property_is_named() -> None:
    with pytest.raises(ValidationError, match=r"schedule\n  Field required"):
        CronJobProps.of({"conninfo": "x", "name": "n", "command": "select 1", "database": "d"})
    with pytest.raises(ValidationError, match=r"verify_jwt\n  Input should be a valid boolean"):
        EdgeFunctionProps.of(
            {"api": {"url": "u", "project_ref": "r"}, "token": "t", "functions_url": "f",
             "app": "a", "slug": "s", "hash": "h", "verify_jwt": "maybe", "files": {}}
        )  # fmt: skip


def test_secrets_never_show_in_a_repr() -> None:
    job = CronJobProps.of(
        {"conninfo": "password=hunter2", "name": "n", "schedule": "* * * * *",
         "command": "select 1", "database": "d"}
    )  # fmt: skip
    assert "hunter2" not in repr(job)


def test_the_diff_compares_inputs_as_pulumi_spells_them() -> None:
    assert EdgeFunctionProps.diffed() == ("api", "token", "app", "slug", "hash", "verify_jwt")
    assert "schema" in RlsPolicyProps.diffed()


def _props_classes() -> list[type[ResourceProps]]:
    return [resource.provider_type.props_type for resource in RESOURCES]


def test_the_program_declares_a_resource_with_its_props_class_only(
    pulumi_mocks: RecordingMocks,
) -> None:
    """``XResource(name, props: XProps)``: another class's props (or a dict, as before the
    props were typed) is refused at declaration, naming the resource."""
    vault = VaultSecretProps.for_secret("conninfo", "name", "value", "description")
    with pytest.raises(TypeError, match=r"CronJob 'nightly': expected CronJobProps, got Vault"):
        CronJob("nightly", vault)  # type: ignore[arg-type]


def test_declared_props_send_what_was_declared_and_the_provider_reads_it_back() -> None:
    """What the constructor from the domain object sends is what the provider validates: the
    same names (aliases included), nothing added that was not declared."""
    job = Job("nightly", "0 2 * * *", "select 1", "postgres", True)
    sent = CronJobProps.for_job("conninfo", job, adopt=False).inputs()
    assert sent == {
        "conninfo": "conninfo", "name": "nightly", "schedule": "0 2 * * *",
        "command": "select 1", "database": "postgres", "active": True, "adopt": False,
        "replaces": False,
    }  # fmt: skip
    assert CronJobProps.of(sent).job() == job
    policy = RlsPolicyProps.of(
        {
            "conninfo": "c",
            "schema": "s",
            "table": "t",
            "name": "n",
            "command": "select",
            "roles": ["anon"],
            "mode": "permissive",
        }
    )
    assert RlsPolicyProps.for_policy("c", policy.policy(), adopt=False).inputs()["schema"] == "s"


def test_secret_properties_are_declared_once_and_alike_wherever_they_appear() -> None:
    """Which properties are secret is declared on the props (``secret()``); the resources'
    ``additional_secret_outputs`` and the policy pack derive from it, so the two lists cannot
    drift (they had: the policy's lacked ``app_conninfo``). A property the policy checks by
    name is secret in every props class that has it."""
    assert all_secret_fields() == SECRET_PROPERTIES
    assert {"conninfo", "app_conninfo", "token", "value", "values", "digests"} <= set(
        SECRET_PROPERTIES
    )
    for kind in _props_classes():
        named = {f.alias or n for n, f in kind.model_fields.items()} & set(SECRET_PROPERTIES)
        assert named == set(kind.secret_fields()), kind.__name__


def test_a_provider_pickled_under_its_old_module_still_loads() -> None:
    """Stacks deployed before the providers were grouped by concern hold providers pickled
    under the old module paths (the engine unpickles the old state's to delete a resource):
    each old path imports as the module that replaced it."""
    old = pickle.dumps(CronJobProvider(), protocol=0).replace(
        b"components.providers.operations.cron", b"components.providers.cron_job"
    )
    assert b"components.providers.cron_job" in old
    assert isinstance(pickle.loads(old), CronJobProvider)  # noqa: S301 (our own bytes)
    assert set(MOVED) == {
        "alerts", "cron_job", "edge_function", "exposed_schemas", "feature_flag",
        "function_secrets", "matview_refresh", "migration", "partition_set", "postgres_settings",
        "project_setting", "publication", "realtime_config", "rls", "seed_data", "vault_secret",
    }  # every module of the flat layout  # fmt: skip
