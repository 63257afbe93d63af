"""The embedded local target: a local Postgres cluster and edge runtime started by
``supastack local up``.

Its engine is decided at the stack's first deploy (the Pulumi CLI where it is installed,
otherwise the offline applier) and recorded in the stack's state directory (``engine.json``),
so a stack is never deployed by two engines: every later deploy, rollout step, rollback,
outputs and history goes through the recorded one, and asks for it by name where it is
missing. ``supastack local reset`` forgets the stack, and with it the choice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supastack.errors import SupastackError
from supastack.functions.specs import SecretSpec
from supastack.local.credentials import LocalCredentials
from supastack.local.history import now
from supastack.local.paths import StatePaths
from supastack.local.redis import LocalRedis
from supastack.private_files import write_private
from supastack.targets.base import StackTarget
from supastack.targets.engines import Engine, pulumi_cli

ENGINE_RECORD = "engine.json"


@dataclass(frozen=True)
class LocalTarget(StackTarget):
    @property
    def is_local(self) -> bool:
        return True

    @property
    def state(self) -> StatePaths:
        return StatePaths(self.stack.local.state_path(self.project_dir))

    @property
    def functions_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.local.runtime_port}"

    @property
    def management_api_url(self) -> str:
        return self.functions_url  # the local edge runtime serves the Management API's paths

    @property
    def default_pg_cron(self) -> str:
        return "1.4.2"  # Debian bookworm's postgresql-15-cron

    @property
    def seeds_by_default(self) -> bool:
        return True

    def database_endpoint(self) -> tuple[str, int, str]:
        return "127.0.0.1", self.stack.local.db_port, "disable"

    @property
    def deploys_as_superuser(self) -> bool:
        return True

    @property
    def configures_project_services(self) -> bool:
        return False  # no Realtime or Data API servers run locally

    @property
    def unreachable_hint(self) -> str:
        return (
            "start the local environment with `supastack local up` (`supastack local status` "
            "shows what runs)"
        )

    def local_credentials(self) -> LocalCredentials:
        return LocalCredentials.load(self.state.credentials)

    def local_redis_url(self, local: LocalCredentials) -> str:
        """``REDIS_URL`` of the local Redis (it runs when an app of the stack asks for one)."""
        return LocalRedis(self.state.redis, self.stack.local.redis_port,
                          local.redis_password).url  # fmt: skip

    def secrets(self, specs: list[SecretSpec]) -> list[SecretSpec]:
        """``generateLocally`` secrets are generated here."""
        return [spec.on_local_target(self.stack.secret_values_set) for spec in specs]

    def management_api(self, local: LocalCredentials | None) -> dict[str, Any]:
        assert local is not None, "the local runtime's project ref comes with its credentials"
        return {"url": self.management_api_url, "project_ref": local.project_ref}

    def settings_props(self) -> dict[str, Any]:
        return {
            "target": "local",
            "local": {"state_dir": str(self.state.root), "port": self.stack.local.db_port},
        }

    # -- delivery ---------------------------------------------------------------------------

    @property
    def engine_record(self) -> Path:
        return self.state.root / ENGINE_RECORD

    def recorded_engine(self) -> Engine | None:
        """The engine this stack was first deployed with (None: never deployed)."""
        if not self.engine_record.exists():
            return None
        try:
            return Engine(json.loads(self.engine_record.read_text())["engine"])
        except (ValueError, KeyError, TypeError):
            raise SupastackError(
                f"{self.engine_record}: not an engine record (engine: pulumi or applier); "
                "`supastack local reset` starts the stack again"
            ) from None

    def engine(self) -> Engine:
        recorded = self.recorded_engine()
        if recorded is None:
            return Engine.PULUMI if pulumi_cli() else Engine.APPLIER
        if recorded is Engine.PULUMI and pulumi_cli() is None:
            raise SupastackError(
                f"stack {self.stack.stack} is deployed by pulumi up (recorded in "
                f"{self.engine_record}) and the Pulumi CLI is not installed here: install it, "
                "or start the stack again with `supastack local reset`"
            )
        return recorded

    def before_deploy(self, engine: Engine) -> None:
        if self.recorded_engine() is None:
            self.state.root.mkdir(parents=True, exist_ok=True)
            record = {"engine": engine.value, "decided": now()}
            write_private(self.engine_record, json.dumps(record))

    def require_engine(self, engine: Engine) -> None:
        """Refuse to run ``engine`` on a stack recorded as deployed by the other one."""
        recorded = self.recorded_engine()
        if recorded is not None and recorded is not engine:
            raise SupastackError(
                f"stack {self.stack.stack} is deployed by {recorded.label} (recorded in "
                f"{self.engine_record}); {engine.label} would keep a second state of it: "
                f"deploy it with `supastack deploy --stack {self.stack.stack}`"
            )

    def engine_env(self) -> dict[str, str]:
        """A local stack's Pulumi state: a file backend in the project unless
        ``PULUMI_BACKEND_URL`` names one; no passphrase unless one is set (the stack holds no
        secret beyond what ``local up`` generated on this machine)."""
        backend = self.project_dir / ".supastack" / "pulumi-state"
        return {
            "PULUMI_BACKEND_URL": os.environ.get("PULUMI_BACKEND_URL", f"file://{backend}"),
            "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", ""),
        }

    @property
    def applier_state(self) -> Path:
        return self.state.root
