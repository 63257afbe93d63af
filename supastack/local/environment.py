"""``supastack local up | down | status | reset``: the embedded target as one unit.

``up`` installs what is missing, creates the cluster on first use, starts Postgres, applies the
bootstrap and starts the edge runtime (and Redis, when an app of the stack asks for one); run
again, it says everything already runs and changes nothing. ``down`` stops them, keeping the
state; ``reset`` also deletes the state directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supastack.errors import SupastackError
from supastack.local import system
from supastack.local.bootstrap import apply_bootstrap
from supastack.local.cluster import Cluster
from supastack.local.credentials import LocalCredentials
from supastack.local.paths import StatePaths
from supastack.local.redis import LocalRedis
from supastack.local.runtime import EdgeRuntime

Report = Callable[[str], None]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    detail: str


@dataclass
class LocalEnvironment:
    """One local environment: a state directory and the two ports it serves on."""

    state_dir: Path
    db_port: int = 54322
    runtime_port: int = 54321
    redis_port: int | None = None
    """Where the local Redis listens, when an app of the stack asks for one (else None)."""

    @property
    def paths(self) -> StatePaths:
        return StatePaths(self.state_dir)

    def credentials(self) -> LocalCredentials:
        return LocalCredentials.load(self.paths.credentials)

    def cluster(self, credentials: LocalCredentials) -> Cluster:
        return Cluster(self.paths, self.db_port, credentials.db_password)

    def runtime(self, credentials: LocalCredentials) -> EdgeRuntime:
        return EdgeRuntime(self.paths, self.runtime_port, self.db_port, credentials)

    def redis(self, credentials: LocalCredentials) -> LocalRedis | None:
        if self.redis_port is None:
            return None
        return LocalRedis(self.paths.redis, self.redis_port, credentials.redis_password)

    def up(self, report: Report = print, install: bool = True) -> bool:
        """Bring both services up; return False when they already ran (nothing was done)."""
        wanted = system.missing_packages()
        if self.redis_port is not None:
            wanted += system.missing_packages(system.REDIS_PACKAGES)
        if install:
            system.install_packages(wanted, report)
        elif wanted:
            raise SupastackError(f"missing packages: {' '.join(wanted)}")
        deno = system.ensure_deno()
        self.paths.root.mkdir(parents=True, exist_ok=True)
        creds = LocalCredentials.load_or_generate(self.paths.credentials)
        cluster, runtime, redis = self.cluster(creds), self.runtime(creds), self.redis(creds)
        db_running, runtime_running = cluster.running(), runtime.pid() is not None
        redis_running = redis is None or redis.pid() is not None
        if db_running and runtime_running and redis_running:
            report("local environment already up: nothing to do")
            return False
        self._check_ports(
            start_db=not db_running, start_runtime=not runtime_running,
            start_redis=not redis_running,
        )  # fmt: skip
        started: list[Cluster | EdgeRuntime | LocalRedis] = []
        try:
            if not cluster.initialized():
                report(f"creating a Postgres 15 cluster in {self.paths.pgdata}")
                cluster.create()
            if not db_running:
                report(f"starting Postgres on 127.0.0.1:{self.db_port}")
                cluster.start()
                started.append(cluster)
            report("applying the Supabase-compatible bootstrap")
            apply_bootstrap(cluster.dsn(), creds.authenticator_password)
            if not runtime_running:
                report(f"starting the edge runtime on {runtime.url}")
                runtime.start(deno)
                started.append(runtime)
            if redis is not None and not redis_running:
                report(f"starting Redis on 127.0.0.1:{self.redis_port}")
                redis.start()
        except BaseException:
            # Leave the machine as this `up` found it: stop only what it started.
            for component in reversed(started):
                component.stop()
            raise
        report("local environment up")
        return True

    def _check_ports(self, start_db: bool, start_runtime: bool, start_redis: bool) -> None:
        """Refuse before starting anything when a port we need is taken."""
        wanted = [
            (start_db, self.db_port, "the local Postgres", "supastack:local.dbPort"),
            (start_runtime, self.runtime_port, "the edge runtime", "supastack:local.runtimePort"),
            (start_redis, self.redis_port, "the local Redis", "supastack:local.redisPort"),
        ]
        for needed, port, what, key in wanted:
            if needed and port is not None and not system.port_is_free(port):
                raise SupastackError(
                    f"port {port} on 127.0.0.1 is already in use, so {what} cannot start; "
                    f"stop what uses it or set {key}"
                )

    def down(self, report: Report = print) -> None:
        if not self.paths.credentials.exists():
            report("local environment is not set up: nothing to stop")
            return
        creds = self.credentials()
        # whether or not the stack still wants one: a Redis left running would hold its port
        LocalRedis(self.paths.redis, self.redis_port or 0, creds.redis_password).stop()
        self.runtime(creds).stop()
        self.cluster(creds).stop()
        report("local environment stopped (state kept; `supastack local reset` removes it)")

    def status(self) -> list[ComponentStatus]:
        if not self.paths.credentials.exists():
            return [
                ComponentStatus("postgres", False, f"not set up (no state in {self.state_dir})"),
                ComponentStatus("edge runtime", False, "not set up"),
            ]
        creds = self.credentials()
        cluster, runtime, redis = self.cluster(creds), self.runtime(creds), self.redis(creds)
        pid = runtime.pid()
        redis_rows = [] if redis is None else [
            ComponentStatus("redis", redis.answers(), f"127.0.0.1:{self.redis_port}")
        ]  # fmt: skip
        return [
            ComponentStatus(
                "postgres",
                cluster.running(),
                f"127.0.0.1:{self.db_port}, data {self.paths.pgdata}",
            ),
            ComponentStatus(
                "edge runtime",
                pid is not None and runtime.healthy(),
                f"{runtime.url}"
                + (f", pid {pid}" if pid else "")
                + f", log {self.paths.runtime_log}",
            ),
            *redis_rows,
        ]

    def reset(self, report: Report = print) -> None:
        self.down(report=lambda _: None)
        if self.paths.root.exists():
            shutil.rmtree(self.paths.root)
        report(f"removed {self.paths.root}")
