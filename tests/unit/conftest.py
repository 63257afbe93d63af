"""Pulumi under `set_mocks`: a fixture that records registered resources and resets after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from components.platform import Platform, PlatformArgs
from components.stack_config import read_credentials
from supastack.config import settings
from supastack.local.credentials import LocalCredentials
from supastack.local.system import free_port
from supastack.plan.stack import plan_stack
from tests.conftest import copy_platform_apps, write_migrations


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False
    secret_inputs: set[str] = field(default_factory=set)
    additional_secret_outputs: list[str] = field(default_factory=list)
    import_id: str = ""
    ignore_changes: list[str] = field(default_factory=list)


#: The outputs pulumi-random makes, with fixed values (the mocks create nothing).
GENERATED: dict[str, dict[str, str]] = {
    "random:index/randomPassword:RandomPassword": {"result": "generated-password"},
    "random:index/randomId:RandomId": {"b64Std": "c2FsdHNhbHRzYWx0c2FsdA=="},
}


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that echo inputs as outputs and remember every resource registered."""

    resources: list[Registered] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", {**args.inputs, **GENERATED.get(args.typ, {})}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _is_secret(value: Any) -> bool:
    """Whether a wire-format value is Pulumi's secret envelope."""
    if not value.HasField("struct_value"):
        return False
    sig = value.struct_value.fields.get(rpc._special_sig_key)
    return sig is not None and sig.string_value == rpc._special_secret_sig


class RecordingMonitor(MockMonitor):
    """The mock monitor, also recording what mocks do not see: dependencies, options, secrets."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            registered = next(
                r
                for r in reversed(self.recording.resources)
                if (r.typ, r.name) == (request.type, request.name)
            )
            registered.urn = response.urn
            registered.parent = request.parent
            registered.dependencies = list(request.dependencies)
            registered.protect = bool(request.protect)
            registered.retain_on_delete = bool(request.retainOnDelete)
            registered.import_id = request.importId
            registered.ignore_changes = list(request.ignoreChanges)
            registered.additional_secret_outputs = list(request.additionalSecretOutputs)
            registered.secret_inputs = {
                key for key, value in request.object.fields.items() if _is_secret(value)
            }
        return response


@pytest.fixture
def pulumi_mocks() -> Iterator[RecordingMocks]:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(
        mocks, project="supastack", stack="test", preview=False, monitor=RecordingMonitor(mocks)
    )
    yield mocks
    pulumi.runtime.reset_options()
    pulumi.runtime.set_all_config({}, [])


def make_project(tmp_path: Path, manifest: str, migrations: dict[str, str]) -> Path:
    """A project with the platform's apps, an app `shop` and local credentials."""
    copy_platform_apps(tmp_path)
    (tmp_path / "apps" / "shop.yaml").write_text(manifest)
    write_migrations(tmp_path, "shop", migrations)
    LocalCredentials.generate().save(tmp_path / "state" / "credentials.json")
    return tmp_path


def deploy_platform(
    tmp_path: Path, secret_values: dict[str, str] | None = None, **config: object
) -> None:
    """Build the Platform for a local stack deploying `shop`, under the mocks;
    ``secret_values`` are set as the secret ``supastack:secretValues``."""
    if secret_values:
        config["secretValues"] = {name: {"secure": "[secret]"} for name in secret_values}
        pulumi.runtime.set_all_config(
            {"supastack:secretValues": json.dumps(secret_values)}, ["supastack:secretValues"]
        )
    stack = settings.parse(
        "test",
        {
            "supastack:target": "local",
            "supastack:apps": ["shop"],
            # nothing listens there: the preview lint falls back to linting every file
            "supastack:local": {"stateDir": str(tmp_path / "state"), "dbPort": free_port()},
            **{f"supastack:{k}": v for k, v in config.items()},
        },
        "Pulumi.test.yaml",
    )

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        args: PlatformArgs = {
            "settings": stack,
            "project_dir": tmp_path,
            "plan": plan_stack(stack, tmp_path),
            "credentials": read_credentials(stack, tmp_path),
        }
        return Platform("supastack", args).urn

    program()


def one(mocks: RecordingMocks, typ: str, name_part: str = "") -> Registered:
    found = [r for r in mocks.resources if r.typ == typ and name_part in r.name]
    assert len(found) == 1, [r.name for r in found]
    return found[0]
