"""One deployment of the hub for the whole package, and the ingest budgets refilled on request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from applier.engine import deploy
from tests.conftest import RecordingServer, Services
from tests.e2e.conftest import local_config, package_target
from tests.e2e.observai.deployed import (
    HOOK,
    Hub,
    Org,
)


def _org(hub_rows: Any, slug: str, tier: str) -> Org:
    owner, viewer = str(uuid.uuid4()), str(uuid.uuid4())
    org_id = hub_rows(
        "insert into observai.organizations (name, slug, tier) values (%s, %s, %s) returning id",
        slug.title(), slug, tier,
    )[0][0]  # fmt: skip
    hub_rows(
        "insert into observai.members values (%s, %s, 'owner'), (%s, %s, 'viewer') returning 1",
        org_id, owner, org_id, viewer,
    )  # fmt: skip
    org = Org(str(org_id), slug, owner, viewer)
    org.key = hub_rows(
        "select api_key from observai.create_api_key(%s, 'agent', '{ingest,read}')", org_id
    )[0][0]
    org.read_key = hub_rows(
        "select api_key from observai.create_api_key(%s, 'grafana', '{read}')", org_id
    )[0][0]
    return org


fresh = package_target()


@pytest.fixture(scope="package")
def hub(fresh: Services) -> Iterator[Hub]:
    services = fresh
    hook = RecordingServer()
    config = local_config(
        services, apps=["observai"],
        alertChannels={HOOK: {"type": "webhook", "secret": "OBSERVAI_HOOK_URL",
                              "severities": ["critical", "warning"]}},
        secretValues={"OBSERVAI_HOOK_URL": f"{hook.url}/hook"},
    )  # fmt: skip
    deployment = deploy(config)

    def rows(query: str, *params: object) -> list[tuple[Any, ...]]:
        with services.connect() as conn:
            return conn.execute(query.encode(), params or None).fetchall()

    yield Hub(services, deployment, services.env, hook, _org(rows, "acme", "pro"),
              _org(rows, "globex", "free"))  # fmt: skip
    hook.close()


@pytest.fixture
def fresh_budgets(hub: Hub) -> None:
    """Every organization's ingest budget full again (tests share the package's deployment)."""
    hub.rows("delete from monitoring.rate_limit_buckets where key like 'observai-ingest:%%' "
             "returning 1")  # fmt: skip
