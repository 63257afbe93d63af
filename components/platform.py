"""The Platform: everything one stack deploys, and the stack outputs smoke tests read.

Today it connects the stack to its target and exports where things are; the apps a stack
enables (apps/<app>.yaml) are built here as App components as they arrive.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pulumi

from components.stack_config import secret
from supastack.local.credentials import LocalCredentials
from supastack.local.paths import StatePaths
from supastack.settings import StackSettings, Target


class PlatformArgs(TypedDict):
    """Inputs of :class:`Platform`."""

    settings: StackSettings
    """The validated stack settings (see ``supastack.settings``)."""
    project_dir: Path
    """The project directory; the local target's state directory is relative to it."""


class Platform(pulumi.ComponentResource):
    """One stack's deployment: its target's endpoints and keys, and (later) its apps."""

    database_host: pulumi.Output[str]
    database_port: pulumi.Output[int]
    functions_url: pulumi.Output[str]
    db_password: pulumi.Output[str]
    """The database password, as a Pulumi secret."""

    def __init__(
        self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("supastack:platform:Platform", name, {}, opts)
        stack = args["settings"]
        if stack.target is Target.LOCAL:
            state = StatePaths(stack.local.state_path(args["project_dir"]))
            creds = LocalCredentials.load(state.credentials)
            self.db_password = pulumi.Output.secret(creds.db_password)
        else:
            self.db_password = secret("dbPassword")
        self.database_host = pulumi.Output.from_input(stack.database.host)
        self.database_port = pulumi.Output.from_input(stack.database.port)
        self.functions_url = pulumi.Output.from_input(stack.functions_url)
        self.register_outputs(
            {
                "databaseHost": self.database_host,
                "databasePort": self.database_port,
                "functionsUrl": self.functions_url,
            }
        )
