"""What every target implements: the settings a stack needs on it, and its delivery (deploy,
preview, outputs, history, rollback), each through the one engine the target decides on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supastack.config.settings import StackSettings
from supastack.delivery.outputs import StackOutputs
from supastack.errors import SupastackError
from supastack.functions.specs import SecretSpec
from supastack.local.credentials import LocalCredentials
from supastack.targets import engines
from supastack.targets.engines import Engine


@dataclass(frozen=True)
class StackTarget(ABC):
    """One stack on its target."""

    stack: StackSettings
    project_dir: Path

    # -- what the settings need on this target ----------------------------------------------

    @property
    @abstractmethod
    def is_local(self) -> bool: ...

    @property
    @abstractmethod
    def functions_url(self) -> str:
        """Base URL under which functions answer (``<base>/functions/v1/<slug>``)."""

    @property
    @abstractmethod
    def management_api_url(self) -> str:
        """Base URL of the Management API."""

    @property
    @abstractmethod
    def default_pg_cron(self) -> str:
        """The pg_cron version the target runs."""

    @property
    @abstractmethod
    def seeds_by_default(self) -> bool:
        """Whether a stack that says nothing applies its apps' seeds."""

    @property
    def pg_cron(self) -> str:
        """The pg_cron version schedules are validated against (the stack's, or the target's)."""
        return self.stack.pg_cron_version or self.default_pg_cron

    @property
    def seeds_enabled(self) -> bool:
        return self.stack.seed if self.stack.seed is not None else self.seeds_by_default

    @abstractmethod
    def database_endpoint(self) -> tuple[str, int, str]:
        """Host, port and sslmode of the stack's database."""

    @property
    @abstractmethod
    def deploys_as_superuser(self) -> bool:
        """Whether the deploying role (``postgres``) is a superuser."""

    @property
    @abstractmethod
    def configures_project_services(self) -> bool:
        """Whether there are Realtime and Data API servers whose settings the Management API
        takes."""

    @property
    @abstractmethod
    def unreachable_hint(self) -> str:
        """What to do when the stack's database does not answer."""

    @abstractmethod
    def local_credentials(self) -> LocalCredentials | None:
        """The credentials ``supastack local up`` generated (None where secrets are stack
        secrets). Reads the state directory: call it before building the program."""

    @abstractmethod
    def secrets(self, specs: list[SecretSpec]) -> list[SecretSpec]:
        """The stack's secrets as this target deploys them."""

    @abstractmethod
    def management_api(self, local: LocalCredentials | None) -> dict[str, Any]:
        """The Management API's ``url`` and ``project_ref``."""

    @abstractmethod
    def settings_props(self) -> dict[str, Any]:
        """What a PostgresSettings resource needs to find its target."""

    # -- delivery, through the stack's engine ---------------------------------------------

    @abstractmethod
    def engine(self) -> Engine:
        """The engine that deploys this stack (decided once per stack)."""

    @abstractmethod
    def engine_env(self) -> dict[str, str]:
        """Environment the engine's commands need (a local Pulumi backend, say)."""

    @property
    def applier_state(self) -> Path | None:
        """Where the offline applier keeps this stack's state (None: it cannot deploy it)."""
        return None

    @abstractmethod
    def before_deploy(self, engine: Engine) -> None:
        """Anything to do once the engine is chosen and before it runs (record it, say)."""

    def deploy(
        self, *, message: str = "", refresh: bool = False, program: Path | None = None
    ) -> int:
        """Update the stack from ``program`` (a checkout of the project; default: the project)
        with its engine; the exit status. Both engines record the update, with ``message``."""
        engine = self.engine()
        self.before_deploy(engine)
        return engines.run_deploy(engine, program or self.project_dir, self.stack.stack,
                                  self.engine_env(), message=message, refresh=refresh)  # fmt: skip

    def preview(self, *, expect_no_changes: bool = False) -> int:
        """What an update would change, nothing applied (``pulumi preview --diff``); the exit
        status, 1 on any change with ``expect_no_changes``."""
        return engines.run_preview(
            self.engine(), self.project_dir, self.stack.stack, self.engine_env(),
            expect_no_changes=expect_no_changes,
        )  # fmt: skip

    def outputs(self) -> StackOutputs:
        """The deployed stack's outputs, secrets included (kept in memory)."""
        return engines.read_outputs(self.engine(), self.project_dir, self.stack.stack,
                                    self.engine_env(), self.applier_state)  # fmt: skip

    def show_outputs(self, *, show_secrets: bool = False) -> str:
        """The outputs as ``pulumi stack output --json`` prints them (secrets masked unless
        ``show_secrets``)."""
        return engines.show_outputs(self.engine(), self.project_dir, self.stack.stack,
                                    self.engine_env(), self.applier_state,
                                    show_secrets=show_secrets)  # fmt: skip

    def history(self) -> list[dict[str, Any]]:
        """The stack's updates, newest first (``pulumi stack history --json``'s shape)."""
        return engines.read_history(self.engine(), self.project_dir, self.stack.stack,
                                    self.engine_env(), self.applier_state)  # fmt: skip

    def commit_of_update(self, version: str) -> str:
        """The git commit update ``version`` of the stack's history recorded."""
        for update in self.history():
            if str(update.get("version")) == version:
                head = (update.get("environment") or {}).get("git.head")
                if not head:
                    raise SupastackError(
                        f"update {version} of {self.stack.stack} recorded no commit"
                    )
                return str(head)
        raise SupastackError(
            f"stack {self.stack.stack} has no update {version} (see its history: `pulumi stack "
            "history`, or `supastack local history` for a stack the offline applier deploys)"
        )
