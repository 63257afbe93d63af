"""The ``supastack`` command line.

Every command prints a :class:`~supastack.errors.SupastackError` as one clear message and exits
non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from supastack import settings
from supastack.errors import SupastackError
from supastack.local.environment import LocalEnvironment
from supastack.local.paths import PROJECT_DIR

app = typer.Typer(no_args_is_help=True, help="Deploy Supabase backends as code (Pulumi).")
local_app = typer.Typer(no_args_is_help=True, help="The embedded local target.")
app.add_typer(local_app, name="local")

StackOption = Annotated[str, typer.Option("--stack", "-s", help="stack whose settings to use")]


@app.callback()
def main(
    ctx: typer.Context,
    cwd: Annotated[
        Path, typer.Option("--cwd", help="project directory holding Pulumi.<stack>.yaml")
    ] = PROJECT_DIR,
) -> None:
    """Remember the project directory for the subcommands."""
    ctx.obj = cwd.resolve()


def _environment(ctx: typer.Context, stack: str) -> LocalEnvironment:
    project_dir: Path = ctx.obj
    stack_settings = settings.load(project_dir, stack)
    if stack_settings.target is not settings.Target.LOCAL:
        raise SupastackError(
            f"{stack_settings.source}: supastack:target is '{stack_settings.target}'; "
            "`supastack local` manages stacks whose target is 'local'"
        )
    local = stack_settings.local
    return LocalEnvironment(
        local.state_path(project_dir),
        db_port=local.db_port,
        runtime_port=local.runtime_port,
    )


@contextmanager
def _user_errors() -> Iterator[None]:
    """Print a SupastackError as one message and exit 1; other errors keep their traceback."""
    try:
        yield
    except SupastackError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from None


@local_app.command()
def up(ctx: typer.Context, stack: StackOption = "local") -> None:
    """Install what is missing and start Postgres and the edge runtime."""
    with _user_errors():
        _environment(ctx, stack).up(report=typer.echo)


@local_app.command()
def down(ctx: typer.Context, stack: StackOption = "local") -> None:
    """Stop Postgres and the edge runtime; keep the state."""
    with _user_errors():
        _environment(ctx, stack).down(report=typer.echo)


@local_app.command()
def status(ctx: typer.Context, stack: StackOption = "local") -> None:
    """Say what runs where; exit 1 unless everything runs."""
    with _user_errors():
        components = _environment(ctx, stack).status()
    for component in components:
        state = "running" if component.running else "stopped"
        typer.echo(f"{component.name:<13} {state:<8} {component.detail}")
    if not all(c.running for c in components):
        raise typer.Exit(code=1)


@local_app.command()
def reset(
    ctx: typer.Context,
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Stop everything and delete the local state (database, functions, credentials)."""
    with _user_errors():
        environment = _environment(ctx, stack)
        if not yes:
            typer.confirm(f"Delete {environment.state_dir} and everything in it?", abort=True)
        environment.reset(report=typer.echo)
