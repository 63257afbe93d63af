"""The functions' Postgres client under steady load, pipelined or one query at a time.

postgres.js 3.4 kept each pool's connections in lists it found them in by scanning an array;
the busy list's array gained a slot per query and was emptied only when the list was, which
under steady load it never is, so pipelined queries got slower the longer the load lasted
(42,966 queries/s in the first window, 12,091 in the sixth) and functions/_shared/db.ts held
it to one query at a time per connection. On 4.x, which the functions use now, pipelining is
the library's default and db.ts's. This runs bench/postgres_client.ts (the functions' pinned
version) against a throwaway local cluster, both ways, 50 loops on a pool of 8 (the functions'
`db()` pool), and prints the queries answered per second in each window: a rate that falls
window after window is a scan; one that holds is not.

    .venv/bin/python -m bench.postgres_client [--windows 6] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from supastack.local import system
from supastack.local.environment import LocalEnvironment
from supastack.local.paths import DENO_DIR, PROJECT_DIR

SCRIPT = Path(__file__).with_suffix(".ts")
FUNCTIONS = PROJECT_DIR / "functions"
POOL, LOOPS = 8, 50
WAYS = {"pipelined (the default, db.ts)": 100, "one at a time (max_pipeline 1)": 1}


def run(dsn: str, pipeline: int, windows: int, seconds: float) -> list[int]:
    done = subprocess.run(
        [str(system.ensure_deno()), "run", "--quiet", "--allow-net", "--allow-env",
         "--allow-read", f"--config={FUNCTIONS / 'deno.json'}",
         f"--lock={FUNCTIONS / 'deno.lock'}", "--frozen", str(SCRIPT),
         str(POOL), str(pipeline), str(LOOPS), str(windows), str(seconds)],
        env={"PATH": os.environ["PATH"], "DENO_DIR": str(DENO_DIR), "NO_COLOR": "1",
             "HOME": str(Path.home()), "SUPABASE_DB_URL": dsn},
        capture_output=True, text=True, check=False, timeout=windows * seconds + 120,
    )  # fmt: skip
    if done.returncode != 0:
        password = urlsplit(dsn).password or "\0"
        said = done.stderr[-2000:].replace(password, "********")
        raise SystemExit(f"{SCRIPT.name} failed: {said}")
    rates: list[int] = json.loads(done.stdout.strip().splitlines()[-1])["rates"]
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="supastack-bench-") as root:
        Path(root).chmod(0o755)
        env = LocalEnvironment(Path(root) / "state", system.free_port(), system.free_port())
        env.up(report=lambda _: None)
        try:
            # the URL functions are given (SUPABASE_DB_URL)
            dsn = env.runtime(env.credentials()).function_env()["SUPABASE_DB_URL"]
            print(f"{LOOPS} loops, a pool of {POOL}, `select $1::int`; queries answered per "
                  f"second in each {args.seconds:g} s window:")  # fmt: skip
            for way, pipeline in WAYS.items():
                rates = run(dsn, pipeline, args.windows, args.seconds)
                print(f"  {way:<36} " + " ".join(f"{r:>7,}" for r in rates)
                      + f"   last / first {rates[-1] / rates[0]:.0%}")  # fmt: skip
        finally:
            env.down(report=lambda _: None)


if __name__ == "__main__":
    main()
