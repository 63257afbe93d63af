"""``supastack adopt``'s view of a live project's functions and secrets, against the local
runtime's Management API: functions by slug, then by content hash and ``verify_jwt``; secrets by
name; what no app declares listed with the command that removes it; nothing changed."""

from __future__ import annotations

import uuid
from pathlib import Path

from components.providers.functions.edge_function import EdgeFunctionProvider
from supastack.adopt import functions
from supastack.functions.packaging import FunctionPackage, package
from supastack.functions.specs import FunctionSpec, SecretSpec
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services
from tests.core.conftest import demo_props


def _package(root: Path, slug: str, verify_jwt: bool = True) -> FunctionPackage:
    spec = FunctionSpec.model_validate({"env": {"MODE": "demo"}, "verifyJwt": verify_jwt})
    return package(root, "demo", slug, spec.config(), spec.verify_jwt)


def test_adopt_compares_functions_by_code_and_secrets_by_name(
    services: Services, functions_root: Path
) -> None:
    provider = EdgeFunctionProvider()
    by_hand = ["adopt-same", "adopt-other", "adopt-jwt", "adopt-stray"]
    for slug in by_hand:
        provider.create(demo_props(services, functions_root, slug, "v1"))  # deployed by hand
    demo_props(services, functions_root, "adopt-other", "v2")  # the app's code is newer
    demo_props(services, functions_root, "adopt-new", "v1")  # never deployed
    api = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    value = f"hand-set-{uuid.uuid4()}"
    api.upsert_secrets({"ADOPT_KEPT": value, "ADOPT_STRAY": value, "ADOPT_OPTIONAL": value})
    versions = {f["slug"]: f["version"] for f in api.list_functions()}
    try:
        declared = [_package(functions_root, slug) for slug in ("adopt-same", "adopt-other",
                                                                 "adopt-new")]  # fmt: skip
        declared.append(_package(functions_root, "adopt-jwt", verify_jwt=False))
        secrets = [SecretSpec(name="ADOPT_KEPT"), SecretSpec(name="ADOPT_MISSING", generate=True),
                   SecretSpec(name="ADOPT_OPTIONAL", optional=True),
                   SecretSpec(name="ADOPT_UNSET", optional=True),
                   SecretSpec(name="ADOPT_STRAY", function=False)]  # SQL's only  # fmt: skip
        found = functions.survey(api, declared, secrets, provided={"ADOPT_KEPT"})

        assert found.taken_over == ["adopt-same"]
        assert found.redeployed == {
            "adopt-jwt": "verify_jwt True (declared False)",
            "adopt-other": "other code (its content hash differs)",
        }
        assert found.new == ["adopt-new"]
        assert "adopt-stray" in found.undeclared and "adopt-same" not in found.undeclared
        assert (found.secrets_present, found.secrets_missing) == (["ADOPT_KEPT"], ["ADOPT_MISSING"])
        assert found.secrets_kept == ["ADOPT_OPTIONAL"]  # optional, no value: left alone
        assert "ADOPT_STRAY" in found.secrets_undeclared
        assert not [n for n in found.secrets_undeclared if n.startswith("SUPABASE_")]
        lines = functions.report(found, "local")
        assert ("function adopt-stray: declared by no app, kept; to remove it: supabase "
                "functions delete adopt-stray --project-ref local") in lines  # fmt: skip
        assert ("secret ADOPT_STRAY: declared by no app, kept; to remove it: supabase secrets "
                "unset ADOPT_STRAY --project-ref local") in lines  # fmt: skip
        assert value not in "\n".join(lines)
        # nothing changed: no function deployed again, no secret touched
        assert {f["slug"]: f["version"] for f in api.list_functions()} == versions
        assert {"ADOPT_KEPT", "ADOPT_STRAY", "ADOPT_OPTIONAL"} <= set(api.secret_digests())
    finally:
        for slug in by_hand:
            api.delete_function(slug)
        api.delete_secrets(["ADOPT_KEPT", "ADOPT_STRAY", "ADOPT_OPTIONAL"])
