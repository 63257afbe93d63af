"""A Supabase project: its direct database connection, the Management API, and the Pulumi
CLI (``pulumi up``), always: the offline applier deploys only the local target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supastack.functions.specs import SecretSpec
from supastack.local.credentials import LocalCredentials
from supastack.targets.base import StackTarget
from supastack.targets.engines import Engine


@dataclass(frozen=True)
class SupabaseTarget(StackTarget):
    @property
    def is_local(self) -> bool:
        return False

    @property
    def functions_url(self) -> str:
        return f"https://{self.stack.project_ref}.supabase.co"

    @property
    def management_api_url(self) -> str:
        return "https://api.supabase.com"

    @property
    def default_pg_cron(self) -> str:
        return "1.6"

    @property
    def seeds_by_default(self) -> bool:
        return False  # seed data is for stacks that ask for it, never by default on a project

    def database_endpoint(self) -> tuple[str, int, str]:
        db = self.stack.database
        return db.host, db.port, db.sslmode

    @property
    def deploys_as_superuser(self) -> bool:
        return False  # Supabase's postgres role is not a superuser

    @property
    def configures_project_services(self) -> bool:
        return True

    @property
    def unreachable_hint(self) -> str:
        return "check supastack:database in the stack file and PGPASSWORD"

    def local_credentials(self) -> None:
        return None  # secrets are stack secrets

    def secrets(self, specs: list[SecretSpec]) -> list[SecretSpec]:
        return specs

    def management_api(self, local: LocalCredentials | None) -> dict[str, Any]:
        return {"url": self.management_api_url, "project_ref": self.stack.project_ref}

    def settings_props(self) -> dict[str, Any]:
        return {"target": "supabase", "local": None}

    def engine(self) -> Engine:
        return Engine.PULUMI

    def before_deploy(self, engine: Engine) -> None:
        """Nothing to record: a Supabase stack has one engine."""

    def engine_env(self) -> dict[str, str]:
        return {}  # the backend and passphrase are the environment's (PULUMI_BACKEND_URL, ...)
