"""Exposed schemas (apps' `api:`) merged into the Data API's config, against the local runtime's
Management API (the same paths and shapes as Supabase's), and the merge rules alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from components.providers.database.exposed_schemas import ExposedSchemasProvider
from supastack.database.exposed_schemas import merged
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, outs


def test_only_what_the_stack_added_is_ever_taken_out() -> None:
    live = "public,graphql_public,reports"
    assert merged(live, ["public", "shop"]) == ("public,graphql_public,reports,shop", ["shop"])
    # shop no longer declared: it goes (the stack added it); public stays (it was there)
    assert merged("public,graphql_public,reports,shop", [], ["shop"]) == (
        "public,graphql_public,reports",
        [],
    )
    assert merged("public,shop", ["shop", "api"], ["shop"]) == ("public,shop,api", ["shop", "api"])


@pytest.fixture
def api(services: Services) -> Iterator[ManagementApi]:
    client = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    before = client.postgrest_config()["db_schema"]
    yield client
    client.update_postgrest_config({"db_schema": before})


def _props(services: Services, schemas: list[str]) -> dict[str, Any]:
    return {
        "api": {"url": services.runtime_url, "project_ref": "local"},
        "token": services.credentials.access_token,
        "schemas": schemas,
    }


def test_create_update_drift_and_delete_through_the_management_api(
    services: Services, api: ManagementApi
) -> None:
    provider = ExposedSchemasProvider()
    api.update_postgrest_config({"db_schema": "public,graphql_public,reports"})  # by hand
    created = provider.create(_props(services, ["public", "shop"]))
    assert api.postgrest_config()["db_schema"] == "public,graphql_public,reports,shop"
    assert outs(created)["added"] == ["shop"]
    assert outs(provider.read(created.id, outs(created))) == outs(created)  # no drift

    api.update_postgrest_config({"db_schema": "public,graphql_public"})  # shop taken out by hand
    drifted = outs(provider.read(created.id, outs(created)))
    assert drifted["schemas"] == ["public"]
    assert provider.diff(created.id, drifted, _props(services, ["public", "shop"])).changes

    updated = provider.update(created.id, drifted, _props(services, ["public", "shop"]))
    assert api.postgrest_config()["db_schema"] == "public,graphql_public,shop"
    provider.delete(created.id, outs(updated))
    assert api.postgrest_config()["db_schema"] == "public,graphql_public"  # public stays


def test_the_runtime_refuses_what_supabase_refuses(services: Services) -> None:
    url = f"{services.runtime_url}/v1/projects/local/postgrest"
    headers = {"Authorization": f"Bearer {services.credentials.access_token}"}
    for body, message in [
        ({"max_rows": -1}, "max_rows must be an integer 0-1000000"),
        ({"db_schema": 3}, "db_schema must be a string"),
        ({"colour": "blue"}, "unknown field 'colour'"),
    ]:
        answer = httpx.patch(url, json=body, headers=headers, timeout=10)
        assert answer.status_code == 400 and message in answer.text
    assert httpx.get(url, timeout=10).status_code == 401
