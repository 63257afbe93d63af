"""EdgeFunction, FunctionSecrets and VaultSecret providers against the local runtime and cluster:
a demo function deploys, answers with its secret, refuses a missing JWT, is rate-limited,
records its invocations and rolls back to its previous code."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from psycopg.conninfo import make_conninfo

from components.providers.database.vault import VaultSecretProvider
from components.providers.functions.edge_function import EdgeFunctionProvider
from components.providers.functions.function_secrets import FunctionSecretsProvider
from supastack.database import vault
from supastack.errors import SupastackError
from supastack.functions.packaging import package
from supastack.functions.specs import FunctionSpec
from supastack.local.credentials import sign_jwt
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, outs, wait_until
from tests.core.conftest import demo_props

GREETING = "hello-from-a-secret-5b1e"


def _user(services: Services) -> dict[str, str]:
    claims: dict[str, object] = {"role": "authenticated", "sub": str(uuid.uuid4())}
    return {"Authorization": f"Bearer {sign_jwt(services.credentials.jwt_secret, claims)}"}


def _secrets_props(services: Services, values: dict[str, str]) -> dict[str, Any]:
    return {
        "api": {"url": services.runtime_url, "project_ref": "local"},
        "token": services.credentials.access_token,
        "values": values,
    }


def test_the_demo_function_end_to_end(services: Services, functions_root: Path) -> None:
    secrets = FunctionSecretsProvider().create(
        _secrets_props(services, {"DEMO_GREETING": GREETING})
    )
    provider = EdgeFunctionProvider()
    v1 = demo_props(
        services, functions_root, "demo-hello", "v1", rateLimit={"requests": 3, "perSeconds": 60}
    )
    created = provider.create(v1)
    url = outs(created)["url"]
    assert url == f"{services.runtime_url}/functions/v1/demo-hello"
    assert outs(created)["ezbr_sha256"] == v1["hash"]  # the runtime hashed what we packaged

    assert httpx.post(url).status_code == 401  # verify_jwt: the gateway refuses
    user = _user(services)
    answer = httpx.post(url, headers={**user, "x-request-id": "demo-req-1"})
    assert answer.status_code == 200
    assert answer.json() == {
        "code": "v1",
        "user": user_id(user),
        "greeting": GREETING,
        "mode": "demo",
    }
    recorded = "select status from monitoring.function_invocations where request_id = 'demo-req-1'"
    assert wait_until(lambda: _scalar(services, recorded)) == 200

    statuses = [httpx.post(url, headers=user).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # 3 per minute, the first call counted too

    v2 = demo_props(services, functions_root, "demo-hello", "v2")
    assert provider.diff("demo-hello", outs(created), v2).changes
    updated = provider.update("demo-hello", outs(created), v2)
    assert httpx.post(url, headers=_user(services)).json()["code"] == "v2"

    rolled_back = provider.update("demo-hello", outs(updated), v1)  # the older program again
    assert httpx.post(url, headers=_user(services)).json()["code"] == "v1"
    assert outs(rolled_back)["version"] == 3
    assert provider.diff("demo-hello", outs(rolled_back), v1).changes is False

    provider.delete("demo-hello", outs(rolled_back))
    assert httpx.post(url, headers=_user(services)).status_code == 404
    FunctionSecretsProvider().delete("function-secrets", outs(secrets))


def user_id(headers: dict[str, str]) -> str:
    token = headers["Authorization"].removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def _scalar(services: Services, query: str) -> Any:
    with services.connect() as conn:
        row = conn.execute(query.encode()).fetchone()
    return row[0] if row else None


def test_read_notices_a_deploy_made_outside_the_stack(
    services: Services, functions_root: Path
) -> None:
    provider = EdgeFunctionProvider()
    props = demo_props(services, functions_root, "demo-drift", "v1", verifyJwt=False)
    created = provider.create(props)
    assert outs(provider.read("demo-drift", outs(created))) == outs(created)

    demo_props(services, functions_root, "demo-drift", "theirs", verifyJwt=False)  # someone's edit
    ManagementApi(services.runtime_url, services.credentials.access_token, "local").deploy_function(
        package(functions_root, "demo", "demo-drift", {"env": {"MODE": "demo"}}, False).upload()
    )
    read = provider.read("demo-drift", outs(created))
    assert (
        outs(read)["hash"].startswith("drift:")
        and provider.diff("demo-drift", outs(read), props).changes
    )
    provider.delete("demo-drift", outs(read))
    assert provider.read("demo-drift", outs(read)).id == ""


def test_a_type_error_is_refused_before_deploying(services: Services, functions_root: Path) -> None:
    props = demo_props(services, functions_root, "demo-broken", "v1")
    props["files"]["demo/demo-broken/index.ts"] += "const n: number = 'text';\n"
    with pytest.raises(
        SupastackError,
        match=r"(?s)function 'demo-broken': deno check failed:.*at functions/demo/demo-broken/",
    ):
        EdgeFunctionProvider().create(props)
    api = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    assert api.get_function("demo-broken") is None


def test_function_secrets_diff_update_drift_and_delete_only_their_own(services: Services) -> None:
    api = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    api.upsert_secrets({"NOT_MANAGED": "someone else's"})
    provider = FunctionSecretsProvider()
    first = _secrets_props(services, {"FS_ONE": "one-value", "FS_TWO": "two-value"})
    created = provider.create(first)
    assert set(outs(created)["digests"]) == {"FS_ONE", "FS_TWO"}

    second = _secrets_props(services, {"FS_ONE": "one-value-rotated"})
    assert provider.diff("s", outs(created), second).changes
    assert provider.diff("s", outs(created), first).changes is False
    updated = provider.update("s", outs(created), second)
    assert (
        set(api.secret_digests()) >= {"FS_ONE", "NOT_MANAGED"}
        and "FS_TWO" not in api.secret_digests()
    )

    api.upsert_secrets({"FS_ONE": "changed in the dashboard"})
    read = provider.read("s", outs(updated))
    assert outs(read)["drifted"] == ["FS_ONE"] and provider.diff("s", outs(read), second).changes

    provider.delete("s", outs(updated))
    assert "FS_ONE" not in api.secret_digests() and "NOT_MANAGED" in api.secret_digests()
    api.delete_secrets(["NOT_MANAGED"])


def test_vault_secret_upsert_drift_and_delete(services: Services) -> None:
    provider = VaultSecretProvider()
    props = {
        "conninfo": services.dsn(),
        "name": "vs_job_secret",
        "value": "v-one",
        "description": "t",
    }
    created = provider.create(props)
    assert provider.create(props).id == "vs_job_secret"  # again: updated in place, not duplicated
    assert _scalar(services, "select count(*) from vault.secrets where name = 'vs_job_secret'") == 1
    assert outs(provider.read("vs_job_secret", outs(created))) == props

    vault.put_secret(services.dsn(), "vs_job_secret", "rotated by hand")
    read = provider.read("vs_job_secret", outs(created))
    assert outs(read)["value"] == "" and provider.diff("vs_job_secret", outs(read), props).changes
    provider.update("vs_job_secret", outs(read), props)
    assert vault.holds(services.dsn(), "vs_job_secret", "v-one") is True

    provider.delete("vs_job_secret", props)
    assert provider.read("vs_job_secret", props).id == ""


def test_secret_values_never_appear_in_output_logs_or_errors(
    services: Services,
    functions_root: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Everything a deploy prints, logs or raises is searched for the values."""
    value = f"never-print-{uuid.uuid4().hex}"
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        secrets = FunctionSecretsProvider().create(_secrets_props(services, {"LEAK_CHECK": value}))
        vault_props = {
            "conninfo": services.dsn(),
            "name": "leak_check",
            "value": value,
            "description": "",
        }
        VaultSecretProvider().create(vault_props)
        props = demo_props(services, functions_root, "demo-leak", "v1", verifyJwt=False)
        EdgeFunctionProvider().create(props)
        httpx.post(f"{services.runtime_url}/functions/v1/demo-leak")
        bad_token = {**_secrets_props(services, {"LEAK_CHECK": value}), "token": "sbp_wrong"}
        unreachable = {**vault_props, "conninfo": make_conninfo(services.dsn(), dbname="nodb")}
        with pytest.raises(SupastackError) as wrong_token:
            FunctionSecretsProvider().create(bad_token)
        with pytest.raises(SupastackError) as no_database:
            VaultSecretProvider().create(unreachable)
        errors += [f"{e.value!r} {e.value}" for e in (wrong_token, no_database)]
        FunctionSecretsProvider().delete("s", outs(secrets))
        VaultSecretProvider().delete("leak_check", vault_props)
        EdgeFunctionProvider().delete("demo-leak", props)
    captured = capfd.readouterr()
    runtime_logs = "".join(p.read_text() for p in services.env.paths.logs.rglob("*") if p.is_file())
    function_logs = "".join(
        p.read_text() for p in services.env.paths.runtime_state.rglob("*.jsonl") if p.is_file()
    )
    everything = "\n".join(
        [captured.out, captured.err, caplog.text, runtime_logs, function_logs, *errors]
    )
    assert len(errors) == 2
    assert value not in everything


def test_adopt_takes_over_a_function_deployed_with_the_same_code_without_deploying_it(
    services: Services, functions_root: Path
) -> None:
    """With ``supastack:adopt``, a function a team deployed by hand with this very code is
    taken over as it is (its version stays); one with other code gets a new version."""
    provider = EdgeFunctionProvider()
    v1 = demo_props(services, functions_root, "demo-adopted", "v1")
    by_hand = outs(provider.create(v1))  # as `supabase functions deploy` left it

    taken = outs(provider.create({**v1, "adopt": True}))
    assert (taken["version"], taken["ezbr_sha256"]) == (by_hand["version"], v1["hash"])
    assert provider.diff("demo-adopted", taken, v1).changes is False  # adopt is not diffed

    v2 = demo_props(services, functions_root, "demo-adopted", "v2")
    redeployed = outs(provider.create({**v2, "adopt": True}))
    assert redeployed["version"] == by_hand["version"] + 1
    assert httpx.post(redeployed["url"], headers=_user(services)).json()["code"] == "v2"
    provider.delete("demo-adopted", redeployed)


def test_an_update_finds_the_package_the_edit_loop_uploaded_ahead_and_uploads_nothing(
    services: Services, functions_root: Path
) -> None:
    """``local deploy --watch`` uploads a saved function ahead of its update
    (supastack.delivery.quick); the update then records that version instead of a new one. An
    update to other code (a rollback, say) still uploads."""
    provider = EdgeFunctionProvider()
    v1 = demo_props(services, functions_root, "demo-ahead", "v1")
    created = outs(provider.create(v1))
    v2 = demo_props(services, functions_root, "demo-ahead", "v2")
    api = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    spec = FunctionSpec.model_validate({"env": {"MODE": "demo"}})
    ahead = api.deploy_function(
        package(functions_root, "demo", "demo-ahead", spec.config(), spec.verify_jwt).upload()
    )
    updated = outs(provider.update("demo-ahead", created, v2))
    assert updated["version"] == ahead["version"] == created["version"] + 1
    back = outs(provider.update("demo-ahead", updated, v1))
    assert back["version"] == ahead["version"] + 1
    assert httpx.post(back["url"], headers=_user(services)).json()["code"] == "v1"
    provider.delete("demo-ahead", back)
