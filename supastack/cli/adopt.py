"""``supastack adopt``: bring an existing project under the stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supastack.adopt import functions, live
from supastack.adopt.supabase_project import adopt
from supastack.cli.common import StackOption, project, stack_connection, user_errors
from supastack.config import settings
from supastack.config.stack_file import edit_config
from supastack.plan.stack import plan_stack
from supastack.targets.connection import cli_management_api

app = typer.Typer(no_args_is_help=True, help="Bring an existing project under the stack.")


@app.callback(invoke_without_command=True)
def adopt_stack(
    ctx: typer.Context,
    stack: StackOption = "",
    accept: Annotated[
        bool, typer.Option("--accept", help="run the SQL shown, record the baseline, set adopt")
    ] = False,
) -> None:
    """With --stack: read the stack's live project and prepare the first deploy to take it over
    (migrations recorded where the schema is what they make; what differs, every policy or
    extension that would weaken the stack, and an app's tables to move out of public, shown
    as SQL to review; run with --accept), and list its functions and secrets against the
    declared ones."""
    if ctx.invoked_subcommand is not None:
        return
    if not stack:
        typer.echo(ctx.get_help())
        raise typer.Exit(code=2)
    project_dir = project(ctx)
    with user_errors():
        stack_settings, conninfo = stack_connection(ctx, stack)
        plan = plan_stack(stack_settings, project_dir)
        files = {app_plan.manifest.app: app_plan.migrations for app_plan in plan.apps}
        jobs = [job for app_plan in plan.apps for job in app_plan.all_jobs]
        replacing = stack_settings.adopt_replaces
        found = live.survey(conninfo, plan.manifests, files, jobs, replacing)
        _report(found)
        api = cli_management_api(stack_settings, project_dir)
        packages = [package for app_plan in plan.apps for package in app_plan.functions.values()]
        deployed = functions.survey(api, packages, plan.secrets, stack_settings.secret_values_set)
        for line in functions.report(deployed, api.project_ref):
            typer.echo(line)
        if accept and found.moves:
            live.move(conninfo, found.moves)
            typer.echo("-- moved; the project read again:")
            found = live.survey(conninfo, plan.manifests, files, jobs, replacing)
            _report(found)
            accept = False  # what it shows now is reviewed before it runs
        if accept:
            live.accept(conninfo, found)
        elif not found.differences:  # the live schema is what the migrations make
            live.record_baseline(conninfo, found.baseline)
        if not accept and not found.resolved:
            typer.echo("not adopted: review the SQL above, resolve it by hand or run again "
                       "with --accept")  # fmt: skip
            raise typer.Exit(code=1)
        path = settings.stack_file(project_dir, stack)
        replaces = sorted({*replacing, *(found.jobs_differing if accept else ())})
        edit_config(path, lambda config: _set_adopt(config, replaces, found.imports))
    typer.echo(
        f"adopted: {path.name} sets supastack:adopt: true (and adoptReplaces, the jobs accepted, "
        f"and adoptImports, what the deploy imports), "
        f"so the next deploy takes over what exists (not diffed: remove them after that "
        f"deploy); next: supastack preview "
        f"--stack {stack}, then deploy"
    )


def _set_adopt(
    config: dict[str, object], replaces: list[str], imports: settings.AdoptImports
) -> None:
    config[f"{settings.NAMESPACE}:adopt"] = True
    if replaces:
        config[f"{settings.NAMESPACE}:adoptReplaces"] = replaces
    listed = imports.model_dump(by_alias=True, exclude_defaults=True)
    if listed:
        config[f"{settings.NAMESPACE}:adoptImports"] = listed


def _report(found: live.Survey) -> None:
    for app_name, rows in found.recorded.items():
        typer.echo(f"migrations {app_name}: {rows} recorded in the history, adopted as they are")
    for app_name, files in found.baseline.items():
        typer.echo(f"migrations {app_name}: no history; its {len(files)} file(s) are recorded "
                   "as applied once the live schema is what they make")  # fmt: skip
    for move in found.moves:
        typer.echo(f"blocking:\n{move}")
        typer.echo(
            "-- once nothing reads the old names (the functions redeployed): "
            + " ".join(f"{statement};" for statement in move.contract())
        )
    for note in found.notes:
        typer.echo(f"-- note: {note}")
    if found.differences:
        typer.echo(
            "-- the live schema differs from what the migrations make; this SQL makes it so:"
        )
        for item in found.differences:
            typer.echo(str(item).rstrip())
    for replacement in found.blocking:
        typer.echo(f"blocking:\n{replacement}")
    if found.jobs_taken_over:
        typer.echo(f"cron jobs taken over by name: {', '.join(found.jobs_taken_over)}")
    for job, fields in found.jobs_differing.items():
        typer.echo(f"blocking: cron job {job!r} differs from the declared one in "
                   f"{', '.join(fields)}; once accepted it runs until the deploy schedules the "
                   "declared job in its place (same job id)")  # fmt: skip
    for job in found.jobs_replaced:
        typer.echo(f"cron job {job!r}: accepted; the deploy schedules the declared job in its "
                   "place (same job id)")  # fmt: skip
    _report_objects(found)
    for job in found.jobs_undeclared:
        quoted = job.replace("'", "''")
        typer.echo(f"cron job {job!r}: declared by no app, kept; to remove it: "
                   f"SELECT cron.unschedule('{quoted}');")  # fmt: skip


def _report_objects(found: live.Survey) -> None:
    """The roles, schemas and extensions the deploy imports, and those that block."""
    for kind, names in found.imports.model_dump().items():
        if names:
            typer.echo(f"{kind} imported by the deploy (pulumi-postgresql, import_): "
                       f"{', '.join(names)}")  # fmt: skip
    for line in found.objects_blocking:
        typer.echo(f"blocking: {line}")


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
