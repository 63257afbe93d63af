"""The stack's delivery: deploy, smoke, rollback and a flag's gated rollout."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from supastack.cli.common import (
    ExpectNoChanges,
    ShowSecrets,
    StackOption,
    deploy_with_engine,
    preview_with_engine,
    project,
    stack_connection,
    user_errors,
)
from supastack.config import settings
from supastack.config.manifest import load_app
from supastack.config.project import banner
from supastack.delivery import rollback as rollbacks
from supastack.delivery.outputs import load as load_outputs
from supastack.delivery.smoke import run as run_smoke
from supastack.delivery.smoke import table as smoke_table
from supastack.delivery.smoke import write_junit
from supastack.errors import SupastackError, first_line
from supastack.flags import records as flag_records
from supastack.flags import rollout as rollouts
from supastack.flags.stack_file import StackFileUpdate
from supastack.targets import target_for


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
    raise typer.Exit(code=deploy_with_engine(project(ctx), stack, message=message, refresh=refresh))


def preview(
    ctx: typer.Context, stack: StackOption = "local", expect_no_changes: ExpectNoChanges = False
) -> None:
    """What an update of the stack would change, nothing applied, with its engine
    (`pulumi preview --diff`, or the offline applier's preview of the same plan)."""
    code = preview_with_engine(project(ctx), stack, expect_no_changes=expect_no_changes)
    raise typer.Exit(code=code)


def outputs(
    ctx: typer.Context,
    stack: StackOption = "local",
    show_secrets: ShowSecrets = False,
) -> None:
    """The stack's outputs as JSON (`pulumi stack output --json`): each secret masked
    unless --show-secrets."""
    project_dir = project(ctx)
    with user_errors():
        target = target_for(settings.load(project_dir, stack), project_dir)
        typer.echo(target.show_outputs(show_secrets=show_secrets))


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
    with user_errors():
        if outputs is not None:
            loaded = load_outputs(outputs)
        else:
            project_dir = project(ctx)
            loaded = target_for(settings.load(project_dir, stack), project_dir).outputs()
        results = run_smoke(loaded)
    typer.echo(smoke_table(results))
    if junit:
        write_junit(results, junit, loaded.stack)
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


def rollback(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Option("--to", help="update version (pulumi stack history) or git ref")
    ],
    stack: StackOption = "local",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Deploy the program and config of an earlier update again, then run the smoke tests."""
    project_dir = project(ctx)
    with user_errors():
        target = target_for(settings.load(project_dir, stack), project_dir)
        typer.echo(f"{banner(project_dir, stack)}, deployed by {target.engine().label}")
        rollbacks.require_clean(project_dir)
        commit = rollbacks.target_commit(project_dir, target, to)
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
    project_dir = project(ctx)
    with user_errors():
        stack_settings = settings.load(project_dir, stack)
        _declared_flag(project_dir, stack_settings, flag)
        chosen = stack_settings.flags.get(flag)
        current = chosen.percentage if chosen and chosen.enabled else Decimal(0)
        _, conninfo = stack_connection(ctx, stack)
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
