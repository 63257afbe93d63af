"""``supastack adopt``: bring an existing project under the stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supastack.adopt.supabase_project import adopt
from supastack.cli.common import project, user_errors

app = typer.Typer(no_args_is_help=True, help="Bring an existing project under the stack.")


@app.command("supabase-project")
def supabase_project(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="the Supabase CLI project (the directory holding supabase/)")
    ],
    app_name: Annotated[str, typer.Option("--app", help="the app it becomes")],
) -> None:
    """Make a Supabase CLI project an app: its manifest, migrations (versions kept), functions
    and seed; list what could not be translated. Writes nothing if anything fails."""
    with user_errors():
        done = adopt(directory, project(ctx), app_name)
    typer.echo(
        f"app {done.app}: apps/{done.app}.yaml, {len(done.migrations)} migration(s), "
        f"{len(done.functions)} function(s) ({', '.join(done.functions) or 'none'}), "
        f"{len(done.seeds)} seed file(s)"
    )
    for line in done.review:
        typer.echo(f"review: {line}")
    for line in done.not_translated:
        typer.echo(f"not translated: {line}")
    typer.echo(f"next: supastack preview --stack local (add {done.app} to the stack's apps)")
