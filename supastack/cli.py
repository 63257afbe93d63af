"""The ``supastack`` command line.

Every command prints a :class:`~supastack.errors.SupastackError` as one clear message and exits
non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from supastack.config import settings
from supastack.config.apps import deployment_order
from supastack.config.manifest import available_apps, load_app, manifest_path
from supastack.config.project import banner, find_project
from supastack.database import advisors, connection
from supastack.database.backups import Backups, backup_directory, store_for
from supastack.delivery import rollback as rollbacks
from supastack.delivery.outputs import load as load_outputs
from supastack.delivery.smoke import run as run_smoke
from supastack.delivery.smoke import table as smoke_table
from supastack.delivery.smoke import write_junit
from supastack.errors import SupastackError, first_line
from supastack.flags import records as flag_records
from supastack.flags import rollout as rollouts
from supastack.flags.stack_file import StackFileUpdate
from supastack.local import watch as local_watch
from supastack.local.environment import LocalEnvironment
from supastack.migrations.drift import drift as schema_drift
from supastack.migrations.engine import EngineOptions, refusal
from supastack.migrations.files import MigrationFile, discover, discover_app
from supastack.migrations.lint import lint
from supastack.migrations.review import review
from supastack.targets import local_target, target_for

app = typer.Typer(no_args_is_help=True, help="Deploy Supabase backends as code (Pulumi).")
local_app = typer.Typer(no_args_is_help=True, help="The embedded local target.")
app.add_typer(local_app, name="local")
db_app = typer.Typer(no_args_is_help=True, help="Migrations, lint and backups of a stack.")
app.add_typer(db_app, name="db")

StackOption = Annotated[str, typer.Option("--stack", "-s", help="stack whose settings to use")]


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


def _project(ctx: typer.Context) -> Path:
    """The project the command works on: the nearest Pulumi.yaml at or above ``--cwd``."""
    with _user_errors():
        return find_project(ctx.obj)


def _environment(ctx: typer.Context, stack: str) -> LocalEnvironment:
    project_dir = _project(ctx)
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


def _deploy_locally(
    project_dir: Path, stack: str, *, message: str = "", refresh: bool = False
) -> int:
    """Update the stack with the engine its target decides on; the exit status. The engine
    runs the Pulumi program (the Pulumi layer) as a process of its own, so the core stays
    Pulumi-free."""
    with _user_errors():
        target = target_for(settings.load(project_dir, stack), project_dir)
        typer.echo(f"{banner(project_dir, stack)}, deployed by {target.engine().label}")
        return target.deploy(message=message, refresh=refresh)


@app.command("deploy")
def deploy_stack(
    ctx: typer.Context,
    stack: StackOption = "local",
    message: Annotated[str, typer.Option("--message", "-m", help="why (kept in the history)")] = "",
    refresh: Annotated[
        bool, typer.Option("--refresh", help="read live state first and undo hand edits")
    ] = False,
) -> None:
    """Update any stack with its engine (decided by its target: `pulumi up`, or for a local
    stack the engine recorded at its first deploy)."""
    raise typer.Exit(code=_deploy_locally(_project(ctx), stack, message=message, refresh=refresh))


@local_app.command("deploy")
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
    project_dir = _project(ctx)
    with _user_errors():
        _environment(ctx, stack)  # refuses a stack whose target is not local
    code = _deploy_locally(project_dir, stack, message=message, refresh=refresh)
    if not watch:
        raise typer.Exit(code=code)
    watched = ", ".join(f"{tree}/" for tree in local_watch.WATCHED)
    ready = partial(typer.echo, f"watching {watched} (Ctrl-C stops)")
    for changed in local_watch.changes(project_dir, ready):
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        typer.echo(f"changed: {', '.join(changed[:5])}{more}; deploying again")
        if _deploy_locally(project_dir, stack) != 0:
            typer.echo("the deploy failed (see above); fix the file and save it again")


@local_app.command("history")
def local_history(ctx: typer.Context, stack: StackOption = "local") -> None:
    """The local stack's updates, newest first (as `pulumi stack history`)."""
    project_dir = _project(ctx)
    with _user_errors():
        stack_settings = settings.load(project_dir, stack)
        updates = local_target(stack_settings, project_dir, "`supastack local`").history()
    for entry in updates:
        changes = ", ".join(f"{n} {a}" for a, n in entry.get("resourceChanges", {}).items())
        commit = entry.get("environment", {}).get("git.head", "")[:12]
        typer.echo(
            f"{entry['version']:>4}  {entry['startTime']}  {entry['result']:<9}  "
            f"{commit or '-':<12}  {changes or 'no changes'}  {entry.get('message', '')}"
        )


@local_app.command()
def reset(
    ctx: typer.Context,
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    deploy: Annotated[
        bool, typer.Option("--deploy", help="then start again and deploy (as supabase db reset)")
    ] = False,
) -> None:
    """Stop everything and delete the local state (database, functions, credentials)."""
    with _user_errors():
        environment = _environment(ctx, stack)
        if not yes:
            typer.confirm(f"Delete {environment.state_dir} and everything in it?", abort=True)
        environment.reset(report=typer.echo)
        if deploy:
            environment.up(report=typer.echo)
    if deploy and (code := _deploy_locally(_project(ctx), stack)) != 0:
        raise typer.Exit(code=code)


def _stack(ctx: typer.Context, stack: str) -> tuple[settings.StackSettings, str]:
    """The stack's settings and its database connection string, once the database answers."""
    project_dir = _project(ctx)
    loaded = settings.load(project_dir, stack)
    conninfo = connection.conninfo(loaded, connection.cli_password(loaded, project_dir))
    connection.require_reachable(loaded, conninfo, project_dir)
    return loaded, conninfo


@db_app.command("status")
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
    project_dir = _project(ctx)
    with _user_errors():
        _check_apps(settings.load(project_dir, stack), apps)
        stack_settings, conninfo = _stack(ctx, stack)
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


@db_app.command("lint")
def db_lint(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="migration files or directories (default: migrations/)"),
    ] = None,
) -> None:
    """Lint migration files without a database; exits 1 on any finding (info aside)."""
    project_dir = _project(ctx)
    with _user_errors():
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


@db_app.command("advisors")
def db_advisors(
    ctx: typer.Context,
    stack: StackOption = "local",
    level: Annotated[
        advisors.Level, typer.Option("--level", help="show findings of this level and above")
    ] = advisors.Level.INFO,
) -> None:
    """Supabase's documented database checks (as `supabase db advisors`); exit 1 on ERROR."""
    with _user_errors():
        _, conninfo = _stack(ctx, stack)
        findings = advisors.advise(conninfo)
    shown = [f for f in findings if advisors.at_least(f.level, level)]
    for finding in shown:
        typer.echo(str(finding))
    typer.echo(advisors.summary(findings))
    if any(f.level is advisors.Level.ERROR for f in findings):
        raise typer.Exit(code=1)


@db_app.command("drift")
def db_drift(
    ctx: typer.Context,
    stack: StackOption = "local",
    apps: Annotated[
        list[str] | None, typer.Option("--app", help="app to compare (default: the stack's apps)")
    ] = None,
) -> None:
    """Compare the live schema with one built from the migrations recorded as applied; print
    the SQL that would bring the live one back; exit 1 on drift."""
    project_dir = _project(ctx)
    with _user_errors():
        _check_apps(settings.load(project_dir, stack), apps)
        stack_settings, conninfo = _stack(ctx, stack)
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
    schemas = ", ".join(dict.fromkeys(m.schema_name for m in compared))
    typer.echo(
        f"-- {len(found.differences)} difference(s) in {schemas}"
        + ("" if found.differences else ": the live schema is what the migrations made")
    )
    if not found.clean:
        raise typer.Exit(code=1)


@db_app.command("restore")
def db_restore(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="backup key, as recorded in the migration's outputs")],
    into: Annotated[str, typer.Option("--into", help="name of the new database to restore into")],
    stack: StackOption = "local",
) -> None:
    """Restore a backup into a new database on the stack's server."""
    project_dir = _project(ctx)
    with _user_errors():
        stack_settings, conninfo = _stack(ctx, stack)
        directory = backup_directory(
            stack_settings.backups, project_dir, stack_settings.local.state_path(project_dir)
        )
        store = store_for(stack_settings.backups, directory)
        Backups(store, stack_settings.backups.prefix).restore(conninfo, key, into)
        typer.echo(f"restored {key} into database {into}")


@app.command()
def smoke(
    ctx: typer.Context,
    stack: StackOption = "local",
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            help="stack outputs JSON (default: `pulumi stack output --json --show-secrets`)",
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="write JUnit XML here")] = None,
) -> None:
    """Check the deployed stack against its outputs; exit 1 on any failure."""
    with _user_errors():
        if outputs is not None:
            loaded = load_outputs(outputs)
        else:
            project_dir = _project(ctx)
            loaded = target_for(settings.load(project_dir, stack), project_dir).outputs()
        results = run_smoke(loaded)
    typer.echo(smoke_table(results))
    if junit:
        write_junit(results, junit, loaded.stack)
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


@app.command()
def rollback(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Option("--to", help="update version (pulumi stack history) or git ref")
    ],
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Deploy the program and config of an earlier update again, then run the smoke tests."""
    project_dir = _project(ctx)
    with _user_errors():
        target = target_for(settings.load(project_dir, stack), project_dir)
        typer.echo(f"{banner(project_dir, stack)}, deployed by {target.engine().label}")
        rollbacks.require_clean(project_dir)
        commit = target.commit_of(to)
        with rollbacks.worktree(project_dir, commit) as tree:
            planned = rollbacks.describe(project_dir, tree, stack)
            typer.echo(f"rolling {stack} back to {commit[:12]}:")
            typer.echo("\n".join(map(str, planned)) or "  (no resource changes)")
            if not yes:
                typer.confirm("Deploy it?", abort=True)
            code = target.deploy(message=f"supastack rollback to {to}", program=tree)
            if code != 0:
                raise SupastackError(f"the rollback's update ({target.engine().label}) exited "
                                     f"{code}; the stack is as far as it got")  # fmt: skip
            results = run_smoke(target.outputs())
    typer.echo(smoke_table(results))
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


def _declared_flag(project_dir: Path, stack: settings.StackSettings, flag: str) -> None:
    """Refuse a flag no app of the stack declares."""
    declared = {
        spec.name for name in stack.deployed_apps for spec in load_app(project_dir, name).flags
    }
    if flag not in declared:
        raise SupastackError(
            f"--flag {flag}: no app of stack {stack.stack!r} declares it (declared: "
            f"{', '.join(sorted(declared)) or 'none'})"
        )


@app.command()
def rollout(
    ctx: typer.Context,
    *,
    flag: Annotated[str, typer.Option("--flag", help="the flag whose percentage to step")],
    stack: StackOption = "local",
    steps: Annotated[
        str | None, typer.Option("--steps", help="percentages, rising: 5,25,50,100")
    ] = None,
    hold: Annotated[str, typer.Option("--hold", help="how long each step holds: 15m")] = "15m",
    gates: Annotated[
        list[str] | None,
        typer.Option("--gate", help="alert rule whose firing rolls the flag back (repeatable)"),
    ] = None,
    poll: Annotated[str, typer.Option("--poll", help="how often the gates are evaluated")] = "15s",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan; change nothing")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="go on with the flag's interrupted rollout")
    ] = False,
    commit: Annotated[
        bool,
        typer.Option("--commit", help="git-commit the stack file before each step's update"),
    ] = False,
) -> None:
    """Step a flag's percentage up, one stack update per step, holding each while the gate
    rules watch; a gate that fires sets it back to the last step that held. Exit 1 unless
    every step held."""
    project_dir = _project(ctx)
    with _user_errors():
        stack_settings = settings.load(project_dir, stack)
        _declared_flag(project_dir, stack_settings, flag)
        chosen = stack_settings.flags.get(flag)
        current = chosen.percentage if chosen and chosen.enabled else Decimal(0)
        _, conninfo = _stack(ctx, stack)
        with flag_records.exclusive(conninfo, flag) as records:
            interrupted = records.running(flag)
            plan = rollouts.choose_plan(
                stack, flag, interrupted, resume=resume, steps=steps, hold=hold,
                gates=gates or [], poll=poll,
            )  # fmt: skip
            if dry_run:
                if interrupted is not None:
                    typer.echo(
                        f"(resuming rollout #{interrupted.id} at step {interrupted.step + 1})"
                    )
                typer.echo(
                    "\n".join(plan.describe(current, records.gates(plan.gates, evaluate=False)))
                )
                return
            if interrupted is None:
                rollouts.check_gates(
                    plan, records.gates(plan.gates, evaluate=True), records.rule_names()
                )
            update = StackFileUpdate(target_for(stack_settings, project_dir), flag, commit)
            run = rollouts.Rollout(plan, records, update, report=typer.echo)
            try:
                result = run.resume(interrupted) if interrupted else run.start(current)
            except psycopg.OperationalError as exc:
                raise SupastackError(
                    f"lost the database during the rollout of {flag!r} ({first_line(exc)}); the "
                    "flag is as the last stack update left it (see the stack file): go on with "
                    "--resume once the database answers"
                ) from None
    if result.outcome is not rollouts.Outcome.COMPLETED:
        typer.secho(f"rollout {result.outcome}: {result.reason}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1)
    typer.echo(f"rollout of {flag} completed at {result.percentage.normalize():f} %")
