"""Deploying 30 functions, redeploying them unchanged, and what the middleware costs per call.

On a throwaway local environment:

1. Package and deploy 30 functions through the EdgeFunction provider (as `pulumi up` would:
   package in the program, provider ``diff``, then ``create``), timing the run.
2. Run again with nothing changed: package and ``diff`` only. Target: zero deploy calls and
   under 2 s. Deploys are counted by the runtime (each deploy is a new version).
3. Latency of sequential calls (after a warm-up) to a bare function and to one that goes through
   functions/_shared (caller check, invocation row written after the response): p50, p95 and
   the ratio of medians.

    .venv/bin/python bench/functions.py [--calls 500]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from components.providers.functions.edge_function import EdgeFunctionProvider
from supastack.functions.packaging import package
from supastack.local import system
from supastack.local.environment import LocalEnvironment
from supastack.local.paths import PROJECT_DIR
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import discover_app
from supastack.platform.management_api import ManagementApi

COUNT = 30
WRAPPED = """\
import { json, serve } from "../../_shared/mod.ts";
serve(import.meta.url, { callers: ["anon", "user"] }, () => json(200, { n: N }));
"""
BARE = (
    "Deno.serve(() => new Response(JSON.stringify({ n: 0 }),\n"
    '  { headers: { "content-type": "application/json" } }));\n'
)


def props(root: Path, slug: str, env: LocalEnvironment, token: str) -> dict[str, Any]:
    pkg = package(root, "bench", slug, {}, verify_jwt=False)
    return {
        "api": {"url": f"http://127.0.0.1:{env.runtime_port}", "project_ref": "local"},
        "token": token,
        "functions_url": f"http://127.0.0.1:{env.runtime_port}",
        "app": "bench",
        "slug": slug,
        "hash": pkg.hash,
        "verify_jwt": False,
        "files": pkg.text_files(),
    }


def deploy_all(root: Path, env: LocalEnvironment, token: str, state: dict[str, Any]) -> float:
    """One `pulumi up` over the 30 functions: package, diff against state, deploy if changed."""
    provider = EdgeFunctionProvider()
    started = time.perf_counter()
    for i in range(COUNT):
        slug = f"fn-{i:02d}"
        news = props(root, slug, env, token)
        olds = state.get(slug)
        if olds is None:
            state[slug] = provider.create(news).outs
        elif provider.diff(slug, olds, news).changes:
            state[slug] = provider.update(slug, olds, news).outs
    return time.perf_counter() - started


def deployed_versions(api: ManagementApi) -> int:
    """Deploys so far, as the runtime counts them (every deploy is a new version)."""
    return sum(int(f["version"]) for f in api.list_functions())


def latencies(url: str, calls: int) -> list[float]:
    with httpx.Client() as client:
        for _ in range(50):
            client.get(url).raise_for_status()
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            client.get(url).raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="supastack-bench-") as tmp:
        root = Path(tmp) / "functions"
        Path(tmp).chmod(0o755)
        shutil.copytree(PROJECT_DIR / "functions" / "_shared", root / "_shared")
        for name in ("deno.json", "deno.lock"):
            shutil.copy(PROJECT_DIR / "functions" / name, root)
        for i in range(COUNT):
            (root / "bench" / f"fn-{i:02d}").mkdir(parents=True)
            (root / "bench" / f"fn-{i:02d}" / "index.ts").write_text(WRAPPED.replace("N", str(i)))
        (root / "bench" / "bare").mkdir()
        (root / "bench" / "bare" / "index.ts").write_text(BARE)
        env = LocalEnvironment(Path(tmp) / "state", system.free_port(), system.free_port())
        env.up(report=lambda _: None)
        try:
            creds = env.credentials()
            dsn = env.cluster(creds).dsn()
            api = ManagementApi(f"http://127.0.0.1:{env.runtime_port}", creds.access_token, "local")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("create schema if not exists monitoring")
            MigrationEngine(dsn).migrate(
                "monitoring", discover_app(PROJECT_DIR / "migrations", "monitoring")
            )
            state: dict[str, Any] = {}
            first = deploy_all(root, env, creds.access_token, state)
            after_first = deployed_versions(api)
            again = deploy_all(root, env, creds.access_token, state)
            print(
                f"deploy {COUNT} functions (package, deno check, upload): {first:.1f} s, "
                f"{after_first} deploys"
            )
            print(
                f"again, unchanged: {again:.2f} s, "
                f"{deployed_versions(api) - after_first} deploys (target: 0, < 2 s)"
            )

            EdgeFunctionProvider().create(props(root, "bare", env, creds.access_token))
            base_url = f"http://127.0.0.1:{env.runtime_port}/functions/v1"
            bare = latencies(f"{base_url}/bare", args.calls)
            wrapped = latencies(f"{base_url}/fn-00", args.calls)
            print(f"latency over {args.calls} sequential calls:")
            for label, timings in (("bare function", bare), ("through _shared", wrapped)):
                print(
                    f"  {label + ':':<20}p50 {statistics.median(timings):.2f} ms, "
                    f"p95 {p95(timings):.2f} ms"
                )
            print(
                f"  ratio of medians: {statistics.median(wrapped) / statistics.median(bare):.2f}x"
            )
        finally:
            env.down(report=lambda _: None)


if __name__ == "__main__":
    main()
