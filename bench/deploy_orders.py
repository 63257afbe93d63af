"""Deploy the local stack to N fresh targets, each in a different random valid order.

The Pulumi engine runs resources whose dependencies are met in parallel, so any order that
respects the declared dependencies can happen in a real ``pulumi up``. Each run starts a fresh
local environment, deploys the program with the offline harness in the order a new random seed
picks (``applier/engine.py``), runs the smoke checks, and tears the environment down. It
prints one line per run and ``failures/N`` at the end; a failing seed can be replayed with
``SUPASTACK_APPLY_SEED=<seed>``.

    .venv/bin/python -m bench.deploy_orders --runs 30
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from pathlib import Path

from applier.engine import deploy
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as smoke
from tests.conftest import start_services
from tests.e2e.conftest import local_config


def one_run(root: Path, seed: int) -> str | None:
    """Deploy to a fresh target in the order ``seed`` picks (printing how long the deploy took,
    the environment's start and smoke apart); the failure, or None."""
    try:
        services = start_services(root / f"run-{seed}")
    except Exception as error:  # reported as what it is: the environment, not the deploy
        return f"the fresh environment did not start: {str(error)[:400]}"
    try:
        began = time.monotonic()
        deployment = deploy(local_config(services), seed=seed)
        print(f"  fresh deploy: {time.monotonic() - began:.1f} s", flush=True)
        outputs = StackOutputs.model_validate(deployment.outputs)
        failed = [check.name for check in smoke(outputs) if not check.ok]
        return f"smoke failed: {failed}" if failed else None
    except Exception as error:  # every failure is a finding, reported with its seed
        return f"{type(error).__name__}: {str(error)[:400]}"
    finally:
        services.env.down(report=lambda _: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the previews' lint warnings are not findings
    seeds = random.SystemRandom().sample(range(2**32), args.runs)
    failures = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="supastack-orders-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        for number, seed in enumerate(seeds, 1):
            began = time.monotonic()
            failure = one_run(root, seed)
            failures += failure is not None
            outcome = f"FAILED {failure}" if failure else "ok"
            print(f"run {number:3d} seed {seed:10d} {time.monotonic() - began:5.1f} s  {outcome}")
    print(f"{failures}/{args.runs} failed ({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
