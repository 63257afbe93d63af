"""The ``supastack`` command line.

Every command prints a :class:`~supastack.errors.SupastackError` as one clear message and exits
non-zero; anything else is a bug and keeps its traceback. One module per group of commands:
``local`` (the embedded target), ``db`` (migrations and backups), ``adopt`` (an existing
project brought under the stack), ``delivery`` (deploy, smoke, rollback, rollout); ``common``
holds what they share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supastack.cli import adopt, db, delivery, local

app = typer.Typer(no_args_is_help=True, help="Deploy Supabase backends as code (Pulumi).")
app.add_typer(local.app, name="local")
app.add_typer(db.app, name="db")
app.add_typer(adopt.app, name="adopt")
app.command("deploy")(delivery.deploy_stack)
app.command()(delivery.preview)
app.command()(delivery.outputs)
app.command()(delivery.smoke)
app.command()(delivery.rollback)
app.command()(delivery.rollout)


@app.callback()
def main(
    ctx: typer.Context,
    cwd: Annotated[
        Path | None,
        typer.Option(
            "--cwd",
            help="directory to find the project from (default: the working directory); the "
            "project is the nearest Pulumi.yaml at or above it, as the Pulumi CLI finds it",
        ),
    ] = None,
) -> None:
    """Remember where to find the project from (found when a command needs it, so that
    ``--help`` works anywhere)."""
    ctx.obj = cwd or Path.cwd()
