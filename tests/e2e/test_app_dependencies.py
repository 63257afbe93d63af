"""A third app that uses bidding's tables (a test fixture, not shipped) deploys after bidding:
in the order this run's seed picks, and, by the recorded graph, in every order the engine's
parallelism could pick. Its seed data runs once on local, over two deploys. Its bid log is
partitioned by month (pg_partman) and a materialized view is refreshed on a schedule; smoke
passes on the whole stack."""

from __future__ import annotations

import shutil

import pytest
import yaml

from applier.engine import Deployment, deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run
from supastack.local.paths import PROJECT_DIR
from tests.conftest import Services, project_file, write_migrations
from tests.e2e.conftest import local_config

REPORT = """\
create table bid_report.daily (day date primary key, bids bigint not null);
alter table bid_report.daily enable row level security;
create view bid_report.by_session with (security_invoker = true) as
  select session_id, count(*) as bids, max(amount) as best from public.bids group by session_id;
create table bid_report.bid_log (id bigint generated always as identity, at timestamptz not null
  default now(), session_id uuid not null, primary key (id, at)) partition by range (at);
alter table bid_report.bid_log enable row level security;
create materialized view bid_report.totals as
  select session_id, count(*) as bids from public.bids group by session_id;
create unique index totals_by_session on bid_report.totals (session_id);
"""
MANIFEST = {
    "dependsOn": ["bidding"],
    "extensions": ["pg_partman"],
    "rls": ["daily", "bid_log"],
    "grants": [
        {"role": "service_role", "objectType": "schema", "privileges": ["USAGE"]},
        {
            "role": "service_role",
            "objectType": "table",
            "objects": ["daily", "bid_log"],
            "privileges": ["SELECT"],
        },
    ],
    "partitions": [
        {"table": "bid_log", "control": "at", "interval": "1 month", "retention": "12 months"}
    ],
    "materializedViews": [{"view": "totals", "schedule": "*/10 * * * *", "concurrently": True}],
}


@pytest.fixture(scope="module")
def deployment(fresh: Services, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    project = tmp_path_factory.mktemp("project")
    shutil.copy(PROJECT_DIR / "__main__.py", project)
    project_file(project)
    for tree in ("apps", "migrations", "functions"):
        shutil.copytree(PROJECT_DIR / tree, project / tree)
    (project / "apps" / "bid_report.yaml").write_text(yaml.safe_dump(MANIFEST))
    write_migrations(project, "bid_report", {"20260301000000_report.sql": REPORT})
    (project / "seeds" / "bid_report").mkdir(parents=True)
    (project / "seeds" / "bid_report" / "01_days.sql").write_text(
        "insert into bid_report.daily values ('2026-01-01', 0);\n"
    )
    # listed first: only dependsOn puts it after bidding
    config = local_config(fresh, apps=["bid_report", "bidding"])
    first = deploy(config, project=project)
    return deploy(config, previous=first, project=project)  # an update of the same program


def test_the_app_deploys_after_the_app_it_uses(fresh: Services, deployment: Deployment) -> None:
    with fresh.connect() as conn:
        view = conn.execute("select to_regclass('bid_report.by_session')").fetchone()
    assert view == ("bid_report.by_session",)
    applied = [a.name for a in deployment.mocks.applied if a.typ.endswith("Migration")]
    assert applied.index("supastack-bid_report-migrations-20260301000000") > applied.index(
        "supastack-bidding-migrations-20260128000000"
    )


def test_in_every_order_every_resource_of_it_waits_for_biddings_migrations_and_functions(
    deployment: Deployment,
) -> None:
    waits = deployment.graph.waits_transitively()
    bidding = {
        urn for urn in waits
        if "supastack-bidding-migrations-" in urn or "supastack-bidding-fn-" in urn
    }  # fmt: skip
    report = [urn for urn in waits if "supastack-bid_report-" in urn]
    assert bidding and report
    assert all(bidding <= waits[urn] for urn in report)


def test_seed_data_ran_once_on_local(fresh: Services, deployment: Deployment) -> None:
    """Deployed twice (the fixture's second deploy is an update): the seed ran on the first."""
    with fresh.connect() as conn:
        rows = conn.execute("select count(*) from bid_report.daily").fetchone()
    assert rows == (1,)
    seeds = [a for a in deployment.mocks.applied if a.typ.endswith("seeds:SeedData")]
    assert [a.id for a in seeds] == ["bid_report/01_days.sql"]


def test_the_partitioned_log_and_the_scheduled_view_are_deployed_and_smoke_passes(
    fresh: Services, deployment: Deployment
) -> None:
    with fresh.connect() as conn:
        partitions = conn.execute(
            "select count(*) from pg_inherits where inhparent = 'bid_report.bid_log'::regclass"
        ).fetchone()
        jobs = {
            str(name): str(schedule)
            for name, schedule in conn.execute(
                "select jobname, schedule from cron.job where jobname like any "
                "(array['partman-bid_report-%', 'refresh-bid_report-%'])"
            ).fetchall()
        }
    assert partitions is not None and int(str(partitions[0])) >= 5  # premade, past and the default
    assert jobs == {
        "partman-bid_report-bid_log": "@hourly",
        "refresh-bid_report-totals": "*/10 * * * *",
    }
    results = run(StackOutputs.model_validate(deployment.outputs))
    assert [f"{r.name}: {r.detail}" for r in results if not r.ok] == []
    view = next(r for r in results if r.name == "materialized view bid_report.totals populated")
    assert view.detail == "not refreshed by its job yet"
