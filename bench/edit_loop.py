"""The edit loop: ``supastack local deploy --watch`` on a copy of the project, deployed to a
fresh local target; a saved change to one function, and a new migration, each timed from the
save until the runtime serves the new code (its Management API shows the new package's hash,
and the function answers) or the table the migration makes exists.

    .venv/bin/python -m bench.edit_loop [--rounds 3]

Each edit is made with the watcher idle (the update of the previous save over: a save made
during an update waits for it). Prints each round, what the watcher did ahead of its update, and
the medians next to the targets (< 2 s each). The first deploy of the copy (a fresh target) is
printed too; it is not part of the loop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import yaml

from supastack.config.manifest import load_app
from supastack.functions.packaging import package
from supastack.local.paths import PROJECT_DIR
from tests.conftest import Services, start_services

#: The function edited (served to anyone, so a plain GET shows it answers) and its app.
APP, SLUG = "events", "events-search"
DEADLINE_S = 120.0


def copy_project(target: Path) -> Path:
    """The project's tracked files (what a clone has), without its local state."""
    listed = subprocess.run(["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    for name in listed:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_DIR / name, target / name)
    return target


def point_at(project: Path, services: Services) -> None:
    """The copy's local stack file, pointed at the fresh target's ports and state."""
    path = project / "Pulumi.local.yaml"
    document = yaml.safe_load(path.read_text())
    config = document["config"]
    env = services.env
    config["supastack:local"] = {
        "stateDir": str(env.state_dir), "dbPort": env.db_port,
        "runtimePort": env.runtime_port, "redisPort": env.redis_port,
    }  # fmt: skip
    config["supastack:database"] = {**config["supastack:database"], "port": env.db_port}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def watch_output(process: subprocess.Popen[str]) -> Iterator[str]:
    assert process.stdout is not None
    yield from process.stdout


def until(condition: Callable[[], bool], what: str) -> float:
    """Seconds until ``condition`` holds (polled every 20 ms), from now."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > DEADLINE_S:
            raise TimeoutError(f"{what}: not within {DEADLINE_S:.0f} s")
        time.sleep(0.02)  # polling what the runtime serves, not standing in for a signal
    return time.perf_counter() - started


def idle(ready: threading.Event) -> None:
    """Wait until the watcher's update of the last save is over (an edit made while an update
    runs waits for it: that is the update's time, measured by the growth bench), then arm."""
    if not ready.wait(timeout=DEADLINE_S):
        raise TimeoutError(f"the watcher was not idle within {DEADLINE_S:.0f} s")
    ready.clear()


def served(services: Services, project: Path) -> Callable[[], bool]:
    """Whether the runtime serves the function as it is on disk now."""
    spec = load_app(project, APP).functions[SLUG]  # the package as the deploy makes it
    wanted = package(project / "functions", APP, SLUG, spec.config(), spec.verify_jwt).hash
    api = f"{services.runtime_url}/v1/projects/{services.credentials.project_ref}/functions"
    auth = {"Authorization": f"Bearer {services.credentials.access_token}"}

    def check() -> bool:
        deployed = httpx.get(f"{api}/{SLUG}", headers=auth, timeout=10)
        if deployed.status_code != 200 or deployed.json().get("ezbr_sha256") != wanted:
            return False
        anon = {"Authorization": f"Bearer {services.credentials.anon_key}"}
        answer = httpx.get(f"{services.runtime_url}/functions/v1/{SLUG}?org=none", headers=anon,
                           timeout=10)  # fmt: skip
        return answer.status_code < 500

    return check


def table_exists(services: Services, name: str) -> Callable[[], bool]:
    def check() -> bool:
        with services.connect() as conn:
            row = conn.execute("select to_regclass(%s) is not null", [name]).fetchone()
        return bool(row and row[0])

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="supastack-edit-loop-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        project = copy_project(root / "project")
        services = start_services(root / "env", redis=True)
        process: subprocess.Popen[str] | None = None
        try:
            point_at(project, services)
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(PROJECT_DIR / ".venv" / "bin" / "supastack"), "--cwd", str(project),
                 "local", "deploy", "--watch"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,  # stopped as a group: the update it runs included
            )  # fmt: skip
            lines = watch_output(process)
            ready = threading.Event()  # the watcher is idle: no update running

            def follow() -> None:
                for line in lines:
                    if line.startswith("watching "):
                        ready.set()
                    elif line.startswith(("changed: ", "ahead of the update: ")):
                        print(f"  watch: {line.rstrip()}")

            threading.Thread(target=follow, daemon=True).start()
            if not ready.wait(timeout=300):
                raise TimeoutError("the first deploy did not finish within 300 s")
            print(f"first deploy of the copy (fresh target): {time.perf_counter() - started:.1f} s")
            function_s, migration_s = [], []
            source = project / "functions" / APP / SLUG / "index.ts"
            for round_ in range(1, args.rounds + 1):
                idle(ready)
                with source.open("a") as edited:
                    edited.write(f"// edit {round_}\n")
                function_s.append(until(served(services, project), f"edit {round_} served"))
                idle(ready)
                name = f"bench_edit_{round_}"
                version = 20991231000000 + round_
                (project / "migrations" / APP / f"{version}_{name}.sql").write_text(
                    f"create table events.{name} (id bigint primary key);\n"
                    f"alter table events.{name} enable row level security;\n"
                )
                migration_s.append(until(table_exists(services, f"events.{name}"),
                                         f"migration {round_} applied"))  # fmt: skip
                print(f"round {round_}: function served {function_s[-1]:.2f} s, migration "
                      f"applied {migration_s[-1]:.2f} s")  # fmt: skip
            print(f"median: function {statistics.median(function_s):.2f} s, migration "
                  f"{statistics.median(migration_s):.2f} s (targets < 2 s each)")  # fmt: skip
        finally:
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            services.env.down(report=lambda _: None)


if __name__ == "__main__":
    main()
