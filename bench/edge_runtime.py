"""Throughput and latency of a trivial function: through the local edge runtime vs direct Deno.

Both serve the same `index.ts` (`Deno.serve(() => new Response("ok"))`): once deployed to a
throwaway edge runtime and invoked at /functions/v1/bench, once run by `deno run` with
DENO_SERVE_ADDRESS. Load: wrk, 2 threads, 50 connections, after a warm-up. Prints requests/s,
p50 and p95 latency for each and the ratio; the target is >= 70 % of direct throughput.

    .venv/bin/python bench/edge_runtime.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from supastack.local import system
from supastack.local.environment import LocalEnvironment
from supastack.local.paths import DENO_DIR

FUNCTION = 'Deno.serve(() => new Response("ok"));\n'
CONNECTIONS = 50
#: wrk prints its own summary; this reports p50/p95 (wrk --latency has no p95) as JSON.
REPORT = """
done = function(summary, latency, requests)
  io.write(string.format('{"rps": %f, "p50_ms": %f, "p95_ms": %f, "errors": %d}\\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
"""


def wrk(url: str, seconds: int, script: Path) -> dict[str, float]:
    base = ["wrk", "-t2", f"-c{CONNECTIONS}", "-s", str(script)]
    subprocess.run([*base, "-d2s", url], capture_output=True, check=True)  # warm-up
    out = subprocess.run(
        [*base, f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        system.install_packages(["wrk"])
    deno = system.ensure_deno()
    root = Path(tempfile.mkdtemp(prefix="supastack-bench-"))
    root.chmod(0o755)
    env = LocalEnvironment(root / "state", system.free_port(), system.free_port())
    direct = None
    try:
        env.up(report=lambda _: None)
        creds = env.credentials()
        runtime_url = f"http://127.0.0.1:{env.runtime_port}"
        httpx.post(
            f"{runtime_url}/v1/projects/{creds.project_ref}/functions/deploy",
            params={"slug": "bench"},
            headers={"Authorization": f"Bearer {creds.access_token}"},
            data={"metadata": json.dumps({"entrypoint_path": "index.ts", "verify_jwt": False})},
            files=[("file", ("index.ts", FUNCTION.encode(), "application/typescript"))],
        ).raise_for_status()
        fn = root / "index.ts"
        fn.write_text(FUNCTION)
        port = system.free_port()
        direct = subprocess.Popen(
            [str(deno), "run", "--allow-net", "--allow-env", str(fn)],
            env={
                **os.environ,
                "DENO_DIR": str(DENO_DIR),
                "DENO_SERVE_ADDRESS": f"tcp:127.0.0.1:{port}",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        direct_url = f"http://127.0.0.1:{port}/"
        through_url = f"{runtime_url}/functions/v1/bench"
        wait_for(direct_url)
        wait_for(through_url)
        script = root / "report.lua"
        script.write_text(REPORT)
        baseline = wrk(direct_url, args.seconds, script)
        runtime = wrk(through_url, args.seconds, script)
    finally:
        if direct is not None:
            direct.terminate()
            direct.wait()
        env.down(report=lambda _: None)
        shutil.rmtree(root, ignore_errors=True)

    print(f"trivial function, wrk -t2 -c{CONNECTIONS}, {args.seconds}s after a 2s warm-up")
    print(f"{'':<22}{'req/s':>12}{'p50 ms':>10}{'p95 ms':>10}{'errors':>8}")
    for name, r in (("direct Deno", baseline), ("local edge runtime", runtime)):
        print(
            f"{name:<22}{r['rps']:>12.0f}{r['p50_ms']:>10.3f}{r['p95_ms']:>10.3f}"
            f"{r['errors']:>8.0f}"
        )
    ratio = runtime["rps"] / baseline["rps"]
    print(f"runtime / direct throughput: {ratio:.1%} (target >= 70%)")


if __name__ == "__main__":
    main()
