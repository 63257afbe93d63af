"""Deploy cost as the stack grows: stacks of N generated apps of one shape, each on a fresh local
target, timed for a fresh deploy, an unchanged redeploy and a preview.

Every generated app has the shape of the seed apps, smaller: its own schema, two tables under RLS
with a policy each, grants, a migration (and its down file), a seed, two functions (one through
functions/_shared, with a rate limit), a generated secret kept in Vault, a pg_cron job calling a
function and an alert rule. The platform's own app (monitoring) is deployed with them, as on
every stack. Printed per size: resources, seconds for each step and milliseconds per resource,
so growth that is not linear in resources shows as a rising per-resource figure.

    .venv/bin/python -m bench.growth [--apps 6 60]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from applier.dynamic_host import DynamicHost
from applier.engine import deploy, preview
from applier.records import Applied, RecordsFile, save_records
from supastack.functions.packaging import CHECKED_DIR
from supastack.local.paths import DENO_DIR
from supastack.sealed import Sealer
from tests.conftest import copy_from_project, start_services
from tests.e2e.conftest import local_config

SHARED = ("__main__.py", "Pulumi.yaml", "apps/monitoring.yaml", "migrations/monitoring",
          "functions/_shared", "functions/deno.json", "functions/deno.lock")  # fmt: skip

MANIFEST = """\
schema: {app}
api: true
extensions: [pg_cron]
grants:
  - {{role: authenticated, objectType: schema, privileges: [USAGE]}}
  - {{role: service_role, objectType: schema, privileges: [USAGE]}}
  - {{role: authenticated, objectType: table, objects: [items, notes], privileges: [SELECT]}}
  - {{role: service_role, objectType: table, objects: [items, notes], privileges: [SELECT]}}
rls: [items, notes]
policies:
  - {{name: users read their items, table: items, command: select, roles: [authenticated],
     using: "owner = (select auth.uid())"}}
  - {{name: users read their notes, table: notes, command: select, roles: [authenticated],
     using: "owner = (select auth.uid())"}}
functions:
  {slug}-list: {{rateLimit: {{requests: 120, perSeconds: 60, by: user}}}}
  {slug}-nightly:
    verifyJwt: false
    verifyJwtOffReason: "called by pg_cron with the job secret"
secrets:
  - {{name: JOB_SECRET, generate: true, vault: true}}
cron:
  - name: {app}-nightly
    schedule: "0 3 * * *"
    function: {{slug: {slug}-nightly, body: {{}}}}
alerts:
  - {{name: {app}-list-errors, severity: warning,
     metric: {{functionErrorRate: {slug}-list}}, threshold: 0.05, window: 5min}}
"""

MIGRATION = """\
create table {app}.items (id bigint generated always as identity primary key,
  owner uuid not null, title text not null, created_at timestamptz not null default now());
create index items_owner on {app}.items (owner);
create table {app}.notes (id bigint generated always as identity primary key,
  owner uuid not null, item bigint not null references {app}.items on delete cascade,
  body text not null);
create index notes_item on {app}.notes (item);
"""
DOWN = "drop table {app}.notes;\ndrop table {app}.items;\n"
SEED = "insert into {app}.items (owner, title) values (gen_random_uuid(), 'first');\n"
LIST = """\
import {{ db, json, serve }} from "../../_shared/mod.ts";
serve(import.meta.url, {{ callers: ["user"] }}, async (_req, ctx) => {{
  const rows = await db()`select id, title from {app}.items where owner = ${{ctx.caller.userId!}}`;
  return json(200, rows);
}});
"""
NIGHTLY = """\
import { json, serve } from "../../_shared/mod.ts";
serve(import.meta.url, { callers: ["job", "service"] }, () => json(200, { done: true }));
"""


#: Versions are unique per database: each app's migration a minute after the previous one's.
FIRST_VERSION = datetime(2026, 8, 1, tzinfo=UTC)


def generate(root: Path, apps: int) -> list[str]:
    """A project of ``apps`` generated apps beside the platform's own; their names."""
    copy_from_project(root, SHARED)
    names = [f"growth_{n:03d}" for n in range(1, apps + 1)]
    for number, app in enumerate(names):
        slug = app.replace("_", "-")
        version = (FIRST_VERSION + timedelta(minutes=number)).strftime("%Y%m%d%H%M%S")
        files = {
            f"apps/{app}.yaml": MANIFEST.format(app=app, slug=slug),
            f"migrations/{app}/{version}_{app}.sql": MIGRATION.format(app=app),
            f"migrations/{app}/{version}_{app}.down.sql": DOWN.format(app=app),
            f"seeds/{app}/01_items.sql": SEED.format(app=app),
            f"functions/{app}/{slug}-list/index.ts": LIST.format(app=app),
            f"functions/{app}/{slug}-nightly/index.ts": NIGHTLY,
        }
        for relative, text in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(textwrap.dedent(text))
    return names


@contextmanager
def create_seconds() -> Iterator[dict[str, float]]:
    """Seconds the dynamic provider host took to create resources, per resource kind (summed
    over the creates the applier runs in parallel), while the block runs. Creates only: the
    program's checks and diffs are all asked at once, so their latency is mostly queueing."""
    spent: dict[str, float] = {}
    lock = threading.Lock()
    call = DynamicHost._call

    def timed_call(host: DynamicHost, method: str, request: Any) -> Any:
        if method != "Create":
            return call(host, method, request)
        began = time.monotonic()
        try:
            return call(host, method, request)
        finally:
            kind = str(getattr(request, "urn", "")).rsplit("::", 1)[0].rsplit(":", 1)[-1]
            with lock:
                spent[kind] = spent.get(kind, 0.0) + time.monotonic() - began

    with patch.object(DynamicHost, "_call", timed_call):
        yield spent


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    began = time.monotonic()
    result = step()
    return time.monotonic() - began, result


#: per resource kind: how many the stack has, and the provider's seconds for all of them
Kinds = dict[str, tuple[int, float]]


def measure(work: Path, apps: int, *, cached: bool) -> tuple[dict[str, float], Kinds]:
    project = work / f"project-{apps}"
    names = generate(project, apps)
    services = start_services(work / f"target-{apps}")
    # the records checkpointed after every change, as `supastack local deploy` writes them
    path, sealer = services.env.state_dir / "deploy-records.json", Sealer.of_state(work)
    file = RecordsFile(path, sealer)
    save = file.save if cached else lambda applied: save_records(path, applied, sealer)
    spent = [0.0, 0]

    def checkpoint(applied: list[Applied]) -> None:
        began = time.monotonic()
        save(applied)
        spent[0] += time.monotonic() - began
        spent[1] += 1

    try:
        config = local_config(services, apps=names, postgresSettings={})
        with create_seconds() as by_kind:
            fresh_s, first = timed(lambda: deploy(config, project=project, checkpoint=checkpoint))
        saves_s, saves = spent
        records = first.mocks.records()
        counts = Counter(r.typ.rsplit(":", 1)[-1] for r in records)
        kinds = {k: (counts[k], by_kind[k]) for k in by_kind if counts[k]}
        noop_s, again = timed(
            lambda: deploy(config, project=project, previous=records, checkpoint=checkpoint)
        )
        changed = [action for action, _ in again.mocks.actions if action != "unchanged"]
        assert not changed, f"the unchanged redeploy changed something: {changed}"
        preview_s, plan = timed(lambda: preview(config, project=project, previous=records))
        assert not plan.changes, plan.render()
    finally:
        services.env.down(report=lambda _: None)
    resources = len(records)
    return {"apps": apps, "resources": resources, "fresh": fresh_s, "noop": noop_s,
            "preview": preview_s, "saves": saves, "saves_s": saves_s}, kinds  # fmt: skip


def _per_resource(kind: tuple[int, float] | None) -> str:
    if kind is None:
        return f"{'':>16}"
    count, seconds = kind
    return f"{count:>5} x {seconds / count:6.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[6, 60])
    parser.add_argument(
        "--uncached-checkpoints", action="store_true",
        help="seal and serialize every record at every checkpoint (the applier before caching)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    # a package that passed `deno check` is not checked again: cold, as a first deploy is
    shutil.rmtree(DENO_DIR / CHECKED_DIR, ignore_errors=True)
    print("the record of packages that passed deno check cleared: every function is checked")
    with tempfile.TemporaryDirectory(prefix="supastack-growth-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        measured = [measure(work, n, cached=not args.uncached_checkpoints) for n in args.apps]
    rows = [row for row, _ in measured]
    print(f"{'apps':>5} {'resources':>9} | {'fresh s':>8} {'ms/res':>6} | {'no-op s':>7} "
          f"{'ms/res':>6} | {'preview s':>9} {'ms/res':>6}")  # fmt: skip
    for row in rows:
        per = {k: 1000 * row[k] / row["resources"] for k in ("fresh", "noop", "preview")}
        print(f"{row['apps']:>5} {row['resources']:>9} | {row['fresh']:>8.1f} {per['fresh']:>6.1f}"
              f" | {row['noop']:>7.1f} {per['noop']:>6.1f} | {row['preview']:>9.1f}"
              f" {per['preview']:>6.1f}")  # fmt: skip
    for row in rows:
        print(f"{row['apps']} apps: the fresh deploy checkpointed the records {row['saves']:.0f} "
              f"times, {row['saves_s']:.1f} s in all")  # fmt: skip
    # what creating a resource of each kind costs: constant per kind as the stack grows means
    # linear; the mix of kinds moves the average per resource (a function's deploy, its deno
    # check above all, costs a hundred times another resource's create)
    print("seconds to create one resource in the fresh deploy (four at a time), by kind:")
    last = measured[-1][1]
    for kind in sorted(last, key=lambda k: -last[k][1])[:8]:
        cells = [_per_resource(kinds.get(kind)) for _, kinds in measured]
        print(f"  {kind:<20} " + " | ".join(cells))
    base = rows[0]
    for row in rows[1:]:
        scale = row["resources"] / base["resources"]
        ratios = ", ".join(f"{k} {row[k] / base[k]:.1f}x" for k in ("fresh", "noop", "preview"))
        print(f"{row['apps']} apps against {base['apps']}: {scale:.1f}x the resources; {ratios}")


if __name__ == "__main__":
    main()
