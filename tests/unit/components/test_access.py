"""The Access component alone: login roles get a SCRAM verifier, grants run one at a time after
RLS, which comes before the policies that need it."""

from __future__ import annotations

import itertools

from applier.errors import plain
from components.access import Access
from supastack.config.settings import AdoptImports
from supastack.database import scram
from tests.unit.components.conftest import build, manifest, secret
from tests.unit.conftest import RecordingMocks, one

SHOP = manifest(
    "shop",
    roles=[{"name": "shop_worker", "login": True}],
    grants=[{"role": "authenticated", "objectType": "table", "objects": ["items"],
             "privileges": ["SELECT"]}],
    rls=["items"],
    policies=[{"name": "owners read", "table": "items", "command": "select",
               "roles": ["authenticated"], "using": "owner = (select auth.uid())"}],
)  # fmt: skip


def test_roles_grants_rls_and_policies(pulumi_mocks: RecordingMocks) -> None:
    build(lambda: Access("shop-access", {"manifest": SHOP, "conninfo": secret(), "database": "db",
                                        "adopt": False, "imports": AdoptImports()}))  # fmt: skip
    role = one(pulumi_mocks, "postgresql:index/role:Role")
    assert plain(role.inputs["password"]) == scram.verifier(
        "generated-password", b"saltsaltsaltsalt"
    )  # the mocks' fixed pulumi-random values
    rls = one(pulumi_mocks, "pulumi-python:dynamic/rls:RowLevelSecurity")
    grants = [r for r in pulumi_mocks.resources if r.typ == "postgresql:index/grant:Grant"]
    # RLS before any grant: never a granted table without it, and never both writing the
    # table's catalog row at once (a parallel deploy met "tuple concurrently updated")
    assert grants and set(grants[0].dependencies) == {role.urn, rls.urn}
    assert rls.dependencies == []
    for before, after in itertools.pairwise(grants):
        assert after.dependencies == [before.urn]
    policy = one(pulumi_mocks, "pulumi-python:dynamic/rls:RlsPolicy")
    assert rls.urn in policy.dependencies and policy.inputs["using"].startswith("owner =")


def test_a_role_adopt_listed_is_imported_by_its_name(pulumi_mocks: RecordingMocks) -> None:
    app = manifest("shop", roles=[{"name": "shop_reader"}, {"name": "shop_auditor"}])
    imports = AdoptImports(roles=["shop_reader"])
    build(lambda: Access("shop-access", {"manifest": app, "conninfo": secret(), "database": "db",
                                        "adopt": True, "imports": imports}))  # fmt: skip
    roles = {r.inputs["name"]: r.import_id for r in pulumi_mocks.resources
             if r.typ == "postgresql:index/role:Role"}  # fmt: skip
    assert roles == {"shop_reader": "shop_reader", "shop_auditor": ""}
