"""Apps that use other apps (`dependsOn`): the order they deploy in, what their resources wait
for, and the graphs refused before anything is declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from supastack.config.manifest import AppManifest
from supastack.errors import SupastackError
from supastack.plan.graph import deployment_order, uses
from tests.conftest import write_migrations
from tests.unit.conftest import RecordingMocks, deploy_platform, make_project, one


def _manifest(app: str, **keys: object) -> AppManifest:
    return AppManifest.model_validate({"app": app, "source": f"apps/{app}.yaml", **keys})


def test_apps_deploy_after_the_apps_they_use_otherwise_in_the_stacks_order() -> None:
    manifests = [
        _manifest("monitoring"),
        _manifest("report", dependsOn=["shop"]),
        _manifest("audit"),
        _manifest("shop", functions={"hello": {}}),
    ]
    ordered = deployment_order(manifests, "test", ["audit", "monitoring", "report", "shop"])
    assert [m.app for m in ordered] == ["monitoring", "audit", "shop", "report"]
    assert uses(manifests[3]) == ("monitoring",)  # functions record their invocations there
    assert uses(manifests[1]) == ("shop",)


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ({"shop": ["nope"]}, r"apps/shop.yaml: dependsOn.0: no app 'nope' \(no apps/nope.yaml\)"),
        ({"shop": ["blog"]}, r"apps/shop.yaml: dependsOn.0: apps/blog.yaml is not deployed on "
                             r"stack 'test'; add it to supastack:apps"),
        ({"shop": ["shop"]}, r"apps/shop.yaml: dependsOn.0: an app cannot depend on itself"),
        ({"shop": ["report"], "report": ["shop"]},
         r"dependsOn: the apps depend on each other in a cycle: apps/(shop|report).yaml -> "
         r"apps/(report|shop).yaml -> apps/(shop|report).yaml"),
    ],
)  # fmt: skip
def test_bad_graphs_are_refused_naming_the_manifests(
    graph: dict[str, list[str]], message: str
) -> None:
    manifests = [_manifest(app, dependsOn=needs) for app, needs in graph.items()]
    if "report" not in graph:
        manifests.append(_manifest("report"))
    with pytest.raises(SupastackError, match=message):
        deployment_order(manifests, "test", ["blog", "report", "shop"])


def test_every_resource_of_an_app_waits_for_the_apps_it_uses(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    """The report app's App component depends on shop's migrations and shop's grants: its
    children register only once their parent has, so none of them can run before shop's tables
    exist, nor GRANT on them while shop's own grants write the same catalog rows."""
    root = make_project(tmp_path, "rls: [items]\n", {"1_items.sql": "select 1;\n"})
    (root / "apps" / "report.yaml").write_text("dependsOn: [shop]\n")
    write_migrations(root, "report", {"2_totals.sql": "select 2;\n"})
    deploy_platform(root, apps=["report", "shop"])
    report = one(pulumi_mocks, "supastack:app:App", "supastack-report")
    shop_migration = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration", "shop-")
    shop_rls = one(pulumi_mocks, "pulumi-python:dynamic/rls:RowLevelSecurity", "shop-")
    assert {shop_migration.urn, shop_rls.urn} <= set(report.dependencies)  # Access's children
    apps = [r.name for r in pulumi_mocks.resources if r.typ == "supastack:app:App"]
    assert apps.index("supastack-shop") < apps.index("supastack-report")


def test_a_cycle_is_refused_before_anything_is_declared(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = make_project(tmp_path, "dependsOn: [report]\n", {"1_items.sql": "select 1;\n"})
    (root / "apps" / "report.yaml").write_text("dependsOn: [shop]\n")
    with pytest.raises(SupastackError, match=r"in a cycle: apps/"):
        deploy_platform(root, apps=["report", "shop"])
    assert pulumi_mocks.resources == []


@pytest.mark.parametrize(
    ("report", "migration", "message"),
    [
        ("functions: {hello: {}}\n", "select 1;",
         r"apps/report.yaml: functions: 'hello' is also declared by apps/shop.yaml \(function "
         r"slugs are project-wide\)"),
        ("cron: [{name: nightly, schedule: '0 3 * * *', sql: select 1}]\n", "select 1;",
         r"apps/(report|shop).yaml: cron: 'nightly' is also declared by apps/(shop|report).yaml "
         r"\(cron job names"),
        ("cron: [{name: supastack-evaluate-alerts, schedule: '* * * * *', sql: select 1}]\n",
         "select 1;", r"apps/report.yaml: cron: 'supastack-evaluate-alerts' is also declared by "
         r"apps/monitoring.yaml"),
        ("schema: shop\n", "select 1;",
         r"apps/(report|shop).yaml: schema: 'shop' is also the schema of apps/(shop|report).yaml"),
        ("{}\n", "create table shop.totals (n int);",
         r"migrations/report/2_totals.sql:1: creates shop.totals in the schema of apps/shop.yaml"),
        ("{}\n", "create table monitoring.mine (n int);",
         r"2_totals.sql:1: creates monitoring.mine in the schema of apps/monitoring.yaml"),
    ],
)  # fmt: skip
def test_names_two_apps_would_both_claim_are_refused_naming_both(
    pulumi_mocks: RecordingMocks, tmp_path: Path, report: str, migration: str, message: str
) -> None:
    shop = "functions: {hello: {}}\ncron: [{name: nightly, schedule: '0 2 * * *', sql: select 1}]\n"
    root = make_project(tmp_path, shop, {"1_items.sql": "create table shop.items (n int);\n"})
    for slug in ("hello",):
        (root / "functions" / "shop" / slug).mkdir(parents=True)
        (root / "functions" / "shop" / slug / "index.ts").write_text(
            "Deno.serve(() => new Response());\n"
        )
    (root / "apps" / "report.yaml").write_text(report)
    write_migrations(root, "report", {"2_totals.sql": migration + "\n"})
    with pytest.raises(SupastackError, match=message):
        deploy_platform(root, apps=["shop", "report"])
    assert pulumi_mocks.resources == []
