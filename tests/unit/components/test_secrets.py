"""The Secrets component alone: generated and provided values, Vault copies, function secrets."""

from __future__ import annotations

import pulumi

from applier.errors import plain
from components.secrets import Secrets
from supastack.functions.specs import SecretSpec
from tests.unit.components.conftest import build, secret
from tests.unit.conftest import RecordingMocks, one

SPECS = [
    SecretSpec(name="JOB_SECRET", generate=True, vault=True),
    SecretSpec(name="API_KEY"),
    SecretSpec(name="OPS_HOOK_URL", vault=True, function=False),
]


def test_values_go_where_their_specs_say(pulumi_mocks: RecordingMocks) -> None:
    provided = pulumi.Output.secret({"API_KEY": "k", "OPS_HOOK_URL": "https://hooks.example/x"})
    build(lambda: Secrets("secrets", {
        "specs": SPECS, "provided": provided,
        "provided_names": frozenset({"API_KEY", "OPS_HOOK_URL"}),
        "api": {"url": "http://api", "project_ref": "local"}, "token": secret(),
        "conninfo": secret(), "vault_values": {}, "drains": {}, "target_values": {},
    }))  # fmt: skip
    generated = one(pulumi_mocks, "random:index/randomPassword:RandomPassword")
    assert "JOB_SECRET" in generated.name
    vault = sorted(
        r.inputs["name"] for r in pulumi_mocks.resources if r.typ.endswith("VaultSecret")
    )
    assert vault == ["JOB_SECRET", "OPS_HOOK_URL"]
    function = one(pulumi_mocks, "pulumi-python:dynamic/functions:FunctionSecrets")
    assert "values" in function.secret_inputs
    assert plain(function.inputs["values"]) == {
        "API_KEY": "k",
        "JOB_SECRET": "generated-password",
    }  # fmt: skip  (the channel URL is for SQL only)


def test_a_value_the_target_provides_is_used_for_a_declared_secret_only(
    pulumi_mocks: RecordingMocks,
) -> None:
    """Locally the target gives REDIS_URL (its own Redis): deployed when an app declares it (an
    optional secret no secretValues sets), and not otherwise."""
    for specs, expected in [
        (
            [SecretSpec(name="REDIS_URL", optional=True)],
            {"REDIS_URL": "redis://:pw@127.0.0.1:54323/0"},
        ),
        ([SecretSpec(name="API_KEY", optional=True)], None),
    ]:
        pulumi_mocks.resources.clear()

        def make(specs: list[SecretSpec] = specs) -> Secrets:
            return Secrets("secrets", {
                "specs": specs, "provided": None, "provided_names": frozenset(),
                "api": {"url": "http://api", "project_ref": "local"}, "token": secret(),
                "conninfo": secret(), "vault_values": {}, "drains": {},
                "target_values": {"REDIS_URL": secret("redis://:pw@127.0.0.1:54323/0")},
            })  # fmt: skip

        build(make)
        found = [r for r in pulumi_mocks.resources if r.typ.endswith("FunctionSecrets")]
        if expected is None:
            assert found == []
        else:
            assert plain(found[0].inputs["values"]) == expected
            assert "values" in found[0].secret_inputs
