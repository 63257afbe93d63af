"""``supastack local``: the embedded local target (up, down, status, deploy, preview, outputs,
history, reset)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from supastack.cli.common import (
    ExpectNoChanges,
    ShowSecrets,
    StackOption,
    deploy_with_engine,
    local_environment,
    preview_with_engine,
    project,
    user_errors,
)
from supastack.config import settings
from supastack.delivery import quick
from supastack.errors import SupastackError, first_line
from supastack.local import watch as local_watch
from supastack.targets import local_target

app = typer.Typer(no_args_is_help=True, help="The embedded local target.")


@app.command()
def up(ctx: typer.Context, stack: StackOption = "local") -> None:
    """Install what is missing and start Postgres and the edge runtime."""
    with user_errors():
        local_environment(ctx, stack).up(report=typer.echo)


@app.command()
def down(ctx: typer.Context, stack: StackOption = "local") -> None:
    """Stop Postgres and the edge runtime; keep the state."""
    with user_errors():
        local_environment(ctx, stack).down(report=typer.echo)


@app.command()
def status(ctx: typer.Context, stack: StackOption = "local") -> None:
    """Say what runs where; exit 1 unless everything runs."""
    with user_errors():
        components = local_environment(ctx, stack).status()
    for component in components:
        state = "running" if component.running else "stopped"
        typer.echo(f"{component.name:<13} {state:<8} {component.detail}")
    if not all(c.running for c in components):
        raise typer.Exit(code=1)


@app.command("deploy")
def local_deploy(
    ctx: typer.Context,
    stack: StackOption = "local",
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="then redeploy when apps/, migrations/, functions/ or seeds/ change"
        ),
    ] = False,
    message: Annotated[
        str, typer.Option("--message", "-m", help="why (kept in `supastack local history`)")
    ] = "",
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="read live state first and undo hand edits (as pulumi up)"),
    ] = False,
) -> None:
    """Deploy the local stack with its engine (the offline applier where the Pulumi CLI was not
    installed at its first deploy: it says it is not `pulumi up`)."""
    project_dir = project(ctx)
    with user_errors():
        local_environment(ctx, stack)  # refuses a stack whose target is not local
    code = deploy_with_engine(project_dir, stack, message=message, refresh=refresh)
    if not watch:
        raise typer.Exit(code=code)
    watched = ", ".join(f"{tree}/" for tree in local_watch.WATCHED)
    ready = partial(typer.echo, f"watching {watched} (Ctrl-C stops)")
    for changed in local_watch.changes(project_dir, ready):
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        typer.echo(f"changed: {', '.join(changed[:5])}{more}; deploying again")
        try:
            went_ahead = quick.ahead(project_dir, stack, changed)
        except SupastackError as exc:  # the update that follows says it too
            went_ahead = [f"nothing ({first_line(exc)})"]
        for line in went_ahead:
            typer.echo(f"ahead of the update: {line}")
        if deploy_with_engine(project_dir, stack) != 0:
            typer.echo("the deploy failed (see above); fix the file and save it again")
        ready()  # idle again: the next save is taken at once


@app.command("preview")
def local_preview(
    ctx: typer.Context, stack: StackOption = "local", expect_no_changes: ExpectNoChanges = False
) -> None:
    """What `supastack local deploy` would change, nothing applied: `+` create, `~` update,
    `+-` replace, `-` delete, with each changed property (as `pulumi preview --diff`)."""
    project_dir = project(ctx)
    with user_errors():
        local_environment(ctx, stack)  # refuses a stack whose target is not local
    raise typer.Exit(
        code=preview_with_engine(project_dir, stack, expect_no_changes=expect_no_changes)
    )


@app.command("outputs")
def local_outputs(
    ctx: typer.Context,
    stack: StackOption = "local",
    show_secrets: ShowSecrets = False,
) -> None:
    """The local stack's outputs as JSON (`pulumi stack output --json`): each secret masked
    unless --show-secrets (they are sealed in the state)."""
    project_dir = project(ctx)
    with user_errors():
        target = local_target(settings.load(project_dir, stack), project_dir, "`supastack local`")
        typer.echo(target.show_outputs(show_secrets=show_secrets))


@app.command("history")
def local_history(ctx: typer.Context, stack: StackOption = "local") -> None:
    """The local stack's updates, newest first (as `pulumi stack history`)."""
    project_dir = project(ctx)
    with user_errors():
        stack_settings = settings.load(project_dir, stack)
        updates = local_target(stack_settings, project_dir, "`supastack local`").history()
    for entry in updates:
        changes = ", ".join(f"{n} {a}" for a, n in entry.get("resourceChanges", {}).items())
        commit = entry.get("environment", {}).get("git.head", "")[:12]
        typer.echo(
            f"{entry['version']:>4}  {entry['startTime']}  {entry['result']:<9}  "
            f"{commit or '-':<12}  {changes or 'no changes'}  {entry.get('message', '')}"
        )


@app.command()
def reset(
    ctx: typer.Context,
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    deploy: Annotated[
        bool, typer.Option("--deploy", help="then start again and deploy (as supabase db reset)")
    ] = False,
) -> None:
    """Stop everything and delete the local state (database, functions, credentials)."""
    with user_errors():
        environment = local_environment(ctx, stack)
        if not yes:
            typer.confirm(f"Delete {environment.state_dir} and everything in it?", abort=True)
        environment.reset(report=typer.echo)
        if deploy:
            environment.up(report=typer.echo)
    if deploy and (code := deploy_with_engine(project(ctx), stack)) != 0:
        raise typer.Exit(code=code)
