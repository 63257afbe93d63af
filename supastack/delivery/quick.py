"""The edit loop's quick path (``supastack local deploy --watch``): a saved function is uploaded
alone, and an app's new migrations are applied alone, before the whole update that follows.

The update then records them and does everything else: the function's resource finds the live
function already is its package and uploads nothing; the migrations' resources find their files
applied and run nothing. So a change is served in about a second, not after an update's
several. Only what needs no ordering and no safety net goes ahead: a migration that can destroy
data waits for the update (which backs up first), and nothing goes ahead when the project does
not plan (the update reports why). A function goes ahead without ``deno check`` (the update
runs it and reports a type error): as with ``supabase functions serve``, a broken save is
served broken until the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psycopg

from supastack.config import settings
from supastack.errors import SupastackError, first_line
from supastack.functions.packaging import FunctionPackage
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import MigrationFile
from supastack.migrations.lint import destructive
from supastack.migrations.states import EngineOptions, State
from supastack.plan.stack import StackPlan, plan_stack
from supastack.targets import connection


def _changed_functions(plan: StackPlan, paths: set[str]) -> list[FunctionPackage]:
    """Each function one of whose files (``functions/``-relative) changed."""
    return [
        package
        for app_plan in plan.apps
        for package in app_plan.functions.values()
        if paths & set(package.files)
    ]


def ahead(project_dir: Path, stack: str, changed: Sequence[str]) -> list[str]:
    """Apply what of ``changed`` (project-relative paths) can go ahead of the update; one line
    per thing done or left to the update."""
    functions = {c.removeprefix("functions/") for c in changed if c.startswith("functions/")}
    apps = {c.split("/")[1] for c in changed if c.startswith("migrations/") and c.count("/") > 1}
    if not functions and not apps:
        return []
    try:
        stack_settings = settings.load(project_dir, stack)
        plan = plan_stack(stack_settings, project_dir)
    except SupastackError:
        return []  # the update says what is wrong
    done: list[str] = []
    if functions:
        api = connection.cli_management_api(stack_settings, project_dir)
        for package in _changed_functions(plan, functions):
            try:
                deployed = api.deploy_function(package.upload())
            except SupastackError as exc:
                done.append(f"function {package.slug}: left to the update ({first_line(exc)})")
            else:
                done.append(f"function {package.slug}: version {deployed['version']} serving")
    if apps:
        password = connection.cli_password(stack_settings, project_dir)
        engine = MigrationEngine(
            connection.conninfo(stack_settings, password),
            EngineOptions.of(stack_settings.migrations),
        )
        for app_plan in plan.apps:
            app = app_plan.manifest.app
            if app in apps:
                done.append(_migrate(engine, app, app_plan.migrations))
    return done


def _migrate(engine: MigrationEngine, app: str, files: Sequence[MigrationFile]) -> str:
    try:
        entries = engine.status(app, files)
        pending = [e.file for e in entries if e.file and e.state is not State.APPLIED]
        if not pending:
            return f"migrations {app}: nothing new"
        if any(destructive(f.sql, f.source) for f in pending):
            return f"migrations {app}: one can destroy data, left to the update (it backs up)"
        applied = engine.migrate(app, files)
    except (SupastackError, psycopg.Error) as exc:
        return f"migrations {app}: left to the update ({first_line(exc)})"
    return f"migrations {app}: {', '.join(f.source for f in applied)} applied"
