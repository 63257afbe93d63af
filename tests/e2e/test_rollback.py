"""Rollback through the program: deploy a newer release, then the older program again.

The newer release has one migration and one function more. Deploying the older program
removes them, newest first, through their providers (the function is deleted, the migration's
down file runs after a backup), and the smoke tests pass on both.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from applier.engine import deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run
from supastack.local.paths import PROJECT_DIR
from supastack.migrations.files import discover_app
from tests.conftest import Services, later_version, project_file
from tests.e2e.conftest import local_config

COMMENTS = """\
create table public.bid_comments (
  comment_id bigint generated always as identity primary key,
  bid_id bigint not null references public.bids on delete cascade,
  body text not null check (length(body) <= 500)
);
alter table public.bid_comments enable row level security;
"""
#: The newer release's migration: after every one the project has.
NEWER = later_version(PROJECT_DIR)
PING = """\
import { json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["job", "service"] }, () => json(200, { pong: true }));
"""


def _newer_release(tmp: Path) -> Path:
    """The project with one more migration and one more function."""
    project = tmp / "newer"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "__main__.py", project)
    project_file(project)
    for tree in ("apps", "migrations", "functions"):
        shutil.copytree(PROJECT_DIR / tree, project / tree)
    migrations = project / "migrations" / "bidding"
    (migrations / f"{NEWER}_bid_comments.sql").write_text(COMMENTS)
    (migrations / f"{NEWER}_bid_comments.down.sql").write_text("drop table public.bid_comments;\n")
    (project / "functions" / "bidding" / "bid-ping").mkdir()
    (project / "functions" / "bidding" / "bid-ping" / "index.ts").write_text(PING)
    manifest = yaml.safe_load((project / "apps" / "bidding.yaml").read_text())
    manifest["functions"]["bid-ping"] = {"verifyJwt": False}
    manifest["rls"].append("bid_comments")
    (project / "apps" / "bidding.yaml").write_text(yaml.safe_dump(manifest))
    return project


def _smoke_failures(outputs: dict[str, object]) -> list[str]:
    results = run(StackOutputs.model_validate(outputs))
    return [f"{r.name}: {r.detail}" for r in results if not r.ok]


@pytest.mark.timeout(600)
def test_deploy_smoke_rollback_smoke(fresh: Services, tmp_path: Path) -> None:
    config = local_config(fresh)
    newer = deploy(config, project=_newer_release(tmp_path))
    assert _smoke_failures(newer.outputs) == []
    ping = f"{fresh.runtime_url}/functions/v1/bid-ping"
    assert httpx.post(ping).status_code == 401  # deployed: the middleware asks for the job secret

    older = deploy(config, previous=newer)  # the older program: this repository as it is

    gone = [(a.typ.rsplit(":", 1)[-1], a.id) for a in older.mocks.deleted]
    assert set(gone) >= {
        ("EdgeFunction", "bid-ping"),
        ("RowLevelSecurity", "public.bid_comments"),
        ("Migration", f"bidding:{NEWER}"),
    }
    # dependents first: the table's RLS and the function go before the migration is reverted
    migration = gone.index(("Migration", f"bidding:{NEWER}"))
    assert gone.index(("RowLevelSecurity", "public.bid_comments")) < migration
    assert gone.index(("EdgeFunction", "bid-ping")) < migration
    with fresh.connect() as conn:
        assert conn.execute("select to_regclass('public.bid_comments')").fetchone() == (None,)
        recorded = conn.execute(
            "select version from supabase_migrations.schema_migrations where app = 'bidding' "
            "order by version"
        ).fetchall()
        backups = conn.execute(
            "select version, direction from supabase_migrations.supastack_backups"
        ).fetchall()
    assert recorded == [(f.version,) for f in discover_app(PROJECT_DIR / "migrations", "bidding")]
    assert (NEWER, "down") in backups  # the destructive down file was backed up first
    assert httpx.post(ping).status_code == 404
    assert _smoke_failures(older.outputs) == []
    unchanged = [a for a in older.mocks.applied if a.typ.endswith("EdgeFunction")]
    assert {a.outputs["version"] for a in unchanged} == {1}  # nothing else was redeployed
