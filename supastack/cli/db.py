"""``supastack db``: migrations' status, lint, advisors, drift and backups of a stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supastack.cli.common import (
    StackOption,
    project,
    stack_connection,
    user_errors,
)
from supastack.config import settings
from supastack.config.manifest import available_apps, load_app, manifest_path
from supastack.database import advisors
from supastack.database.declared import Declared
from supastack.errors import SupastackError
from supastack.migrations.backups import Backups, backup_directory, store_for
from supastack.migrations.drift import drift as schema_drift
from supastack.migrations.files import MigrationFile, discover, discover_app
from supastack.migrations.lint import lint
from supastack.migrations.review import review
from supastack.migrations.states import EngineOptions, refusal
from supastack.plan.graph import deployment_order

app = typer.Typer(no_args_is_help=True, help="Migrations, lint and backups of a stack.")


@app.command("status")
def db_status(
    ctx: typer.Context,
    stack: StackOption = "local",
    apps: Annotated[
        list[str] | None, typer.Option("--app", help="app to show (default: the stack's apps)")
    ] = None,
) -> None:
    """Applied, pending, edited and out-of-order migrations, with lint of the pending ones.

    Exits 1 when a migration would be refused (edited, out of order, file missing).
    """
    project_dir = project(ctx)
    with user_errors():
        _check_apps(settings.load(project_dir, stack), apps)
        stack_settings, conninfo = stack_connection(ctx, stack)
        names = apps or stack_settings.deployed_apps
        found = discover(project_dir / "migrations", names)
        options = EngineOptions.of(stack_settings.migrations)
        refused = False
        for name in names:
            schema = _schema(project_dir, name)
            result = review(conninfo, name, schema, found[name])
            if result.note:
                raise SupastackError(result.note)
            typer.echo(f"{name} (schema {schema}, migrations/{name})")
            for entry in result.entries:
                problem = refusal(entry, options)
                refused = refused or problem is not None
                typer.echo(f"  {entry.version:<16} {entry.name:<32} {entry.state.value}")
                if problem:
                    typer.echo(f"      {problem}")
            if not result.entries:
                typer.echo("  no migrations")
            for finding in result.findings:
                typer.echo(f"  lint {finding}")
    if refused:
        raise typer.Exit(code=1)


def _check_apps(stack: settings.StackSettings, apps: list[str] | None) -> None:
    """Refuse an ``--app`` the stack does not deploy."""
    deployed = stack.deployed_apps
    unknown = [name for name in apps or () if name not in deployed]
    if unknown:
        raise SupastackError(
            f"--app {unknown[0]}: not an app of stack {stack.stack!r} (it deploys: "
            f"{', '.join(deployed)})"
        )


def _schema(project_dir: Path, app_name: str) -> str:
    """The app's schema from its manifest (the app's name when it has none yet)."""
    if not manifest_path(project_dir, app_name).exists():
        return app_name
    return load_app(project_dir, app_name).schema_name


@app.command("lint")
def db_lint(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="migration files or directories (default: migrations/)"),
    ] = None,
) -> None:
    """Lint migration files without a database; exits 1 on any finding (info aside)."""
    project_dir = project(ctx)
    with user_errors():
        findings = []
        for path in paths or [project_dir / "migrations"]:
            for app_name, files, context in _lint_targets(path.resolve()):
                findings += lint(files, _schema(project_dir, app_name), context)
    for finding in findings:
        typer.echo(str(finding))
    problems = [f for f in findings if not f.info]
    typer.echo(f"{len(problems)} finding(s), {len(findings) - len(problems)} info")
    if problems:
        raise typer.Exit(code=1)


def _lint_targets(path: Path) -> list[tuple[str, list[MigrationFile], list[MigrationFile]]]:
    """(app, files to lint, the app's other files) for a file, an app directory or migrations/."""
    if path.is_file():
        app_files = discover_app(path.parent.parent, path.parent.name)
        chosen = [f for f in app_files if Path(f.source).name == path.name]
        if not chosen:
            raise SupastackError(f"{path}: not an up migration file")
        return [(path.parent.name, chosen, app_files)]
    if not path.is_dir():
        raise SupastackError(f"{path}: no such file or directory")
    if any(path.glob("*.sql")):
        app_files = discover_app(path.parent, path.name)
        return [(path.name, app_files, app_files)]
    return [
        (d.name, files, files)
        for d in sorted(p for p in path.iterdir() if p.is_dir())
        if (files := discover_app(path, d.name))
    ]


@app.command("advisors")
def db_advisors(
    ctx: typer.Context,
    stack: StackOption = "local",
    level: Annotated[
        advisors.Level, typer.Option("--level", help="show findings of this level and above")
    ] = advisors.Level.INFO,
) -> None:
    """Supabase's documented database checks (as `supabase db advisors`), and supastack's of
    what the stack declares (a policy on an app's table it does not declare, an extension in
    another schema); exit 1 on ERROR."""
    project_dir = project(ctx)
    with user_errors():
        stack_settings, conninfo = stack_connection(ctx, stack)
        manifests = [load_app(project_dir, name) for name in stack_settings.deployed_apps]
        findings = advisors.advise(conninfo, declared=Declared.of_manifests(manifests))
    shown = [f for f in findings if advisors.at_least(f.level, level)]
    for finding in shown:
        typer.echo(str(finding))
    typer.echo(advisors.summary(findings))
    if any(f.level is advisors.Level.ERROR for f in findings):
        raise typer.Exit(code=1)


@app.command("drift")
def db_drift(
    ctx: typer.Context,
    stack: StackOption = "local",
    apps: Annotated[
        list[str] | None, typer.Option("--app", help="app to compare (default: the stack's apps)")
    ] = None,
) -> None:
    """Compare the live schema with one built from the migrations recorded as applied; print
    the SQL that would bring the live one back; exit 1 on drift."""
    project_dir = project(ctx)
    with user_errors():
        _check_apps(settings.load(project_dir, stack), apps)
        stack_settings, conninfo = stack_connection(ctx, stack)
        manifests = deployment_order(
            [load_app(project_dir, name) for name in stack_settings.deployed_apps],
            stack,
            available_apps(project_dir),
        )
        files = discover(project_dir / "migrations", stack_settings.deployed_apps)
        compared = [m for m in manifests if not apps or m.app in apps]
        found = schema_drift(conninfo, manifests, files, compared)
    for note in found.notes:
        typer.echo(f"-- note: {note}")
    for item in found.differences:
        typer.echo(str(item))
    typer.echo(f"-- compared by {found.compared_by}")
    schemas = ", ".join(dict.fromkeys(m.schema_name for m in compared))
    typer.echo(
        f"-- {len(found.differences)} difference(s) in {schemas}"
        + ("" if found.differences else ": the live schema is what the migrations made")
    )
    if not found.clean:
        raise typer.Exit(code=1)


@app.command("restore")
def db_restore(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="backup key, as recorded in the migration's outputs")],
    into: Annotated[str, typer.Option("--into", help="name of the new database to restore into")],
    stack: StackOption = "local",
) -> None:
    """Restore a backup into a new database on the stack's server."""
    project_dir = project(ctx)
    with user_errors():
        stack_settings, conninfo = stack_connection(ctx, stack)
        directory = backup_directory(
            stack_settings.backups, project_dir, stack_settings.local.state_path(project_dir)
        )
        store = store_for(stack_settings.backups, directory)
        Backups(store, stack_settings.backups.prefix).restore(conninfo, key, into)
        typer.echo(f"restored {key} into database {into}")
