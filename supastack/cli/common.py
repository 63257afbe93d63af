"""What every command shares: the project it works on, its stack and database, the local
environment, how a user's error is printed, and a deploy with the stack's engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from supastack.config import settings
from supastack.config.manifest import load_app, manifest_path
from supastack.config.project import banner, find_project
from supastack.errors import SupastackError
from supastack.local.environment import LocalEnvironment
from supastack.targets import connection, local_target, target_for

StackOption = Annotated[str, typer.Option("--stack", "-s", help="stack whose settings to use")]
ExpectNoChanges = Annotated[
    bool, typer.Option("--expect-no-changes", help="exit 1 if the preview finds any change")
]
ShowSecrets = Annotated[
    bool, typer.Option("--show-secrets", help="print the secret outputs' values")
]


def project(ctx: typer.Context) -> Path:
    """The project the command works on: the nearest Pulumi.yaml at or above ``--cwd``."""
    with user_errors():
        return find_project(ctx.obj)


def local_environment(ctx: typer.Context, stack: str) -> LocalEnvironment:
    project_dir = project(ctx)
    stack_settings = settings.load(project_dir, stack)
    local_target(stack_settings, project_dir, "`supastack local`")
    local = stack_settings.local
    # a missing manifest is for the deploy to report; here it asks for nothing
    wants_redis = any(
        load_app(project_dir, name).redis
        for name in stack_settings.deployed_apps
        if manifest_path(project_dir, name).exists()
    )
    return LocalEnvironment(
        local.state_path(project_dir),
        db_port=local.db_port,
        runtime_port=local.runtime_port,
        redis_port=local.redis_port if wants_redis else None,
    )


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a SupastackError as one message and exit 1; other errors keep their traceback."""
    try:
        yield
    except SupastackError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from None


def stack_connection(ctx: typer.Context, stack: str) -> tuple[settings.StackSettings, str]:
    """The stack's settings and its database connection string, once the database answers."""
    project_dir = project(ctx)
    loaded = settings.load(project_dir, stack)
    conninfo = connection.conninfo(loaded, connection.cli_password(loaded, project_dir))
    connection.require_reachable(loaded, conninfo, project_dir)
    return loaded, conninfo


def deploy_with_engine(
    project_dir: Path, stack: str, *, message: str = "", refresh: bool = False
) -> int:
    """Update the stack with the engine its target decides on; the exit status. The engine
    runs the Pulumi program (the Pulumi layer) as a process of its own, so the core stays
    Pulumi-free."""
    with user_errors():
        target = target_for(settings.load(project_dir, stack), project_dir)
        typer.echo(f"{banner(project_dir, stack)}, deployed by {target.engine().label}")
        return target.deploy(message=message, refresh=refresh)


def preview_with_engine(project_dir: Path, stack: str, *, expect_no_changes: bool) -> int:
    """Preview the stack's next update with the engine its target decides on; the exit
    status."""
    with user_errors():
        target = target_for(settings.load(project_dir, stack), project_dir)
        typer.echo(f"{banner(project_dir, stack)}, deployed by {target.engine().label}")
        return target.preview(expect_no_changes=expect_no_changes)
