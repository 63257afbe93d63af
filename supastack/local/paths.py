"""Where the local target keeps its state (a project-local, git-ignored directory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The repository root: ``local/`` (bootstrap SQL, edge runtime) lives here.
PROJECT_DIR = Path(__file__).resolve().parents[2]
BOOTSTRAP_DIR = PROJECT_DIR / "local" / "bootstrap"
RUNTIME_SOURCE = PROJECT_DIR / "local" / "edge-runtime"
#: Tools installed by supastack itself (the pinned Deno) and Deno's module cache, shared by
#: every local environment of this checkout, including the throwaway ones of the tests.
TOOLS_DIR = PROJECT_DIR / ".supastack" / "tools"
DENO_DIR = PROJECT_DIR / ".supastack" / "deno"


@dataclass(frozen=True)
class StatePaths:
    """The layout of one local environment's state directory."""

    root: Path

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def postgres_environment(self) -> Path:
        """Optional extra environment for the Postgres server, one ``NAME=value`` a line: for a
        tool that must wrap the server process (the tests' clock preloads libfaketime)."""
        return self.root / "postgres.env"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def postgres_log(self) -> Path:
        return self.logs / "postgres.log"

    @property
    def runtime_log(self) -> Path:
        return self.logs / "edge-runtime.log"

    @property
    def redis(self) -> Path:
        """The local Redis's directory: its config (with the password: 0600), pid and log."""
        return self.root / "redis"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    @property
    def vault_key(self) -> Path:
        return self.root / "vault.key"

    @property
    def runtime_state(self) -> Path:
        return self.root / "edge-runtime"

    @property
    def runtime_config(self) -> Path:
        return self.root / "edge-runtime.json"

    @property
    def runtime_lock(self) -> Path:
        """The runtime's npm lock: its own pins, extended by the packages functions import."""
        return self.root / "edge-runtime.lock"

    @property
    def runtime_pid(self) -> Path:
        return self.root / "edge-runtime.pid"
