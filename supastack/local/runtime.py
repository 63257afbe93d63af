"""Start, stop and ask about the local edge runtime (``local/edge-runtime``, on Deno).

The runtime runs detached, with a pid file and a log in the state directory. It gets a minimal
environment (functions see only what Supabase would give them) and reads its access token and
JWT secret from a 0600 config file rather than from the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from supastack.local import process, system
from supastack.local.credentials import LocalCredentials, public_jwks
from supastack.local.paths import DENO_DIR, RUNTIME_SOURCE, StatePaths
from supastack.private_files import write_private

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


@dataclass
class EdgeRuntime:
    """The local edge runtime of one environment."""

    paths: StatePaths
    port: int
    db_port: int
    credentials: LocalCredentials = field(repr=False)
    request_idle_timeout_s: float = 150.0
    """Supabase's request idle timeout: a function that has not started its response by then
    gets the caller a 504 from the gateway."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def function_env(self) -> dict[str, str]:
        """What every function finds in its environment, as on Supabase."""
        creds = self.credentials
        return {
            "SUPABASE_URL": self.url,
            "SUPABASE_ANON_KEY": creds.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": creds.service_role_key,
            # the new API keys and the signing keys' JWKS, in the shapes Supabase gives them
            "SUPABASE_PUBLISHABLE_KEYS": json.dumps({"default": creds.publishable_key}),
            "SUPABASE_SECRET_KEYS": json.dumps({"default": creds.secret_key}),
            "SUPABASE_JWKS": json.dumps(public_jwks(creds.signing_key)),
            # The runtime forwards log lines to the drains itself; the middleware stands aside.
            "SUPASTACK_EDGE_RUNTIME": "local",
            "SUPABASE_DB_URL": (
                f"postgresql://postgres:{creds.db_password}@127.0.0.1:{self.db_port}/postgres"
            ),
        }

    def pid(self) -> int | None:
        """The runtime's pid if it runs (a stale pid file, or a reused pid, counts as not)."""
        return process.pid_from(self.paths.runtime_pid, str(self.paths.runtime_config).encode())

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_internal/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, deno: Path) -> None:
        self.paths.runtime_state.mkdir(parents=True, exist_ok=True)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        config = {
            "port": self.port,
            "stateDir": str(self.paths.runtime_state.resolve()),
            "projectRef": self.credentials.project_ref,
            "accessToken": self.credentials.access_token,
            "jwtSecret": self.credentials.jwt_secret,
            "jwks": public_jwks(self.credentials.signing_key),
            "requestIdleTimeoutMs": int(self.request_idle_timeout_s * 1000),
            "functionEnv": self.function_env(),
        }
        write_private(self.paths.runtime_config, json.dumps(config))
        state = str(self.paths.runtime_state.resolve())
        # The runtime's own dependencies are pinned by its committed deno.lock; functions import
        # npm packages of their own, so the process runs on a copy that may grow (new packages
        # are pinned on first download, pinned ones are verified), not on the frozen original.
        shutil.copyfile(RUNTIME_SOURCE / "deno.lock", self.paths.runtime_lock)
        cmd = [
            str(deno),
            "run",
            f"--lock={self.paths.runtime_lock.resolve()}",
            "--quiet",
            "--no-prompt",
            f"--config={RUNTIME_SOURCE / 'deno.json'}",
            "--allow-net",
            "--allow-env",
            "--allow-sys",
            "--allow-read",
            f"--allow-write={state}",
            str(RUNTIME_SOURCE / "main.ts"),
            str(self.paths.runtime_config.resolve()),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.paths.runtime_state.resolve()),
            "DENO_DIR": str(DENO_DIR),
            "NO_COLOR": "1",
            **system.network_env(),  # functions' npm packages are fetched on first boot
            # profiling a bench's runtime: DENO_V8_FLAGS=--prof (docs/testing-and-benchmarks.md)
            **({"DENO_V8_FLAGS": flags} if (flags := os.environ.get("DENO_V8_FLAGS")) else {}),
        }
        with self.paths.runtime_log.open("ab") as log:
            deno_run = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.paths.runtime_pid.write_text(str(deno_run.pid))

        def exited() -> str | None:
            if deno_run.poll() is None:
                return None
            self.paths.runtime_pid.unlink(missing_ok=True)
            return (
                f"the edge runtime exited with status {deno_run.returncode} while starting; "
                f"last lines of {self.paths.runtime_log}:\n{self._log_tail()}"
            )

        def timed_out() -> str:
            self.stop()
            return (
                f"the edge runtime did not answer on {self.url} within {START_TIMEOUT_S:.0f}s; "
                f"see {self.paths.runtime_log}"
            )

        process.wait_ready(self.healthy, START_TIMEOUT_S, exited=exited, timed_out=timed_out,
                           every=0.1)  # fmt: skip

    def stop(self) -> None:
        process.stop(self.pid, self.paths.runtime_pid, STOP_TIMEOUT_S)

    def _log_tail(self, lines: int = 10) -> str:
        try:
            return "\n".join(self.paths.runtime_log.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"
