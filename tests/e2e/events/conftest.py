"""One deployment of the events app for the whole package, and a studio in it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from applier.engine import deploy
from tests.conftest import Services
from tests.e2e.conftest import local_config, package_target
from tests.e2e.events.deployed import (
    RESEND_KEY,
    WEBHOOK_SECRET,
    Stack,
    Studio,
    new_event,
)
from tests.e2e.providers import local_providers

fresh = package_target()


@pytest.fixture(scope="package")
def stack(fresh: Services) -> Iterator[Stack]:
    with local_providers(WEBHOOK_SECRET, RESEND_KEY) as providers:
        deploy(local_config(fresh, apps=["events"], secretValues=providers.secrets))
        yield Stack(fresh, providers.stripe, providers.resend)


@pytest.fixture(scope="package")
def studio(stack: Stack) -> Studio:
    orgs = []
    for slug in ("studio-a", "studio-b"):
        orgs.append(str(stack.scalar(
            "insert into events.organizations (slug, name, path) values (%s, %s, %s) "
            "returning id", slug, slug, slug.replace("-", "_"),
        )))  # fmt: skip
    staff, other_staff = str(uuid.uuid4()), str(uuid.uuid4())
    stack.scalar(
        "insert into events.org_members (org_id, user_id) values (%s, %s), (%s, %s) returning 1",
        orgs[0],
        staff,
        orgs[1],
        other_staff,
    )
    return Studio(
        orgs[0], orgs[1], staff, other_staff,
        new_event(stack, orgs[0], capacity=5), new_event(stack, orgs[0], capacity=5, price=2500),
    )  # fmt: skip
