"""The apps of a stack as a graph: who depends on whom, in which order they deploy.

An app names the apps it uses in ``dependsOn``; every resource of it then waits for their
migrations and functions (Pulumi runs everything else in parallel). The platform's own apps
come first, and monitoring is an implicit dependency of every app with functions (they record
each invocation there), alert rules or flags (rows there). Unknown apps, apps the stack does not
deploy, and cycles are refused before anything is declared, naming the manifests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from graphlib import CycleError, TopologicalSorter

from supastack.config.manifest import AppManifest
from supastack.config.settings import MONITORING_APP, PLATFORM_APPS
from supastack.errors import SupastackError
from supastack.migrations.files import MigrationFile
from supastack.migrations.lint import created_tables


def platform_apps_used(manifest: AppManifest) -> tuple[str, ...]:
    """The platform apps an app relies on: every function records its invocations and takes
    rate-limit tokens in the monitoring app's tables, and every alert rule and flag is a row
    there."""
    if manifest.app in PLATFORM_APPS or not (
        manifest.functions or manifest.alerts or manifest.flags
    ):
        return ()
    return (MONITORING_APP,)


def uses(manifest: AppManifest) -> tuple[str, ...]:
    """Every app ``manifest``'s resources wait for: its ``dependsOn`` and the platform's."""
    return tuple(dict.fromkeys([*platform_apps_used(manifest), *manifest.depends_on]))


def deployment_order(
    manifests: Sequence[AppManifest], stack: str, available: Sequence[str]
) -> list[AppManifest]:
    """The manifests, each after the apps it uses (otherwise in the stack's order).

    ``available`` are the apps with a manifest in ``apps/``: a dependency outside them is
    unknown, one not deployed by ``stack`` is named as such.
    """
    by_name = {m.app: m for m in manifests}
    problems = []
    for manifest in manifests:
        for index, needed in enumerate(manifest.depends_on):
            where = f"{manifest.source}: dependsOn.{index}"
            if needed == manifest.app:
                problems.append(f"{where}: an app cannot depend on itself")
            elif needed not in available:
                problems.append(f"{where}: no app {needed!r} (no apps/{needed}.yaml)")
            elif needed not in by_name:
                problems.append(
                    f"{where}: apps/{needed}.yaml is not deployed on stack {stack!r}; add it to "
                    "supastack:apps in its stack file"
                )
    if problems:
        raise SupastackError("\n".join(problems))
    graph: TopologicalSorter[str] = TopologicalSorter()
    for manifest in manifests:
        graph.add(manifest.app, *uses(manifest))
    try:
        graph.prepare()
    except CycleError as exc:
        cycle = " -> ".join(f"apps/{app}.yaml" for app in reversed(exc.args[1]))
        raise SupastackError(
            f"dependsOn: the apps depend on each other in a cycle: {cycle}"
        ) from None
    position = {m.app: index for index, m in enumerate(manifests)}
    ordered: list[AppManifest] = []
    while graph.is_active():  # each round: the apps whose dependencies are placed, stack order
        ready = sorted(graph.get_ready(), key=position.__getitem__)
        ordered += [by_name[app] for app in ready]
        graph.done(*ready)
    return ordered


#: Names Supabase keeps one of per project or database: (manifest key, what it is, the names).
_GLOBAL_NAMES: tuple[tuple[str, str, Callable[[AppManifest], list[str]]], ...] = (
    ("functions", "function slugs are project-wide", lambda m: list(m.functions)),
    ("cron", "cron job names are database-wide", lambda m: [job.name for job in m.cron]),
    ("alerts", "alert rule names are stack-wide", lambda m: [rule.name for rule in m.alerts]),
    ("flags", "flag names are stack-wide", lambda m: [flag.name for flag in m.flags]),
)


def check_shared_names(
    manifests: Sequence[AppManifest], migrations: Mapping[str, Sequence[MigrationFile]]
) -> None:
    """Refuse, naming both manifests, what two apps would both claim: a function slug, a cron
    job, alert rule or flag name, a schema, or tables in one schema (secrets declared
    differently and migration versions are refused where they are merged)."""
    problems = []
    for key, why, names_of in _GLOBAL_NAMES:
        seen: dict[str, AppManifest] = {}
        for manifest in manifests:
            for name in names_of(manifest):
                other = seen.setdefault(name, manifest)
                if other is not manifest:
                    problems.append(
                        f"{manifest.source}: {key}: {name!r} is also declared by {other.source} "
                        f"({why})"
                    )
    owners: dict[str, AppManifest] = {}
    for manifest in manifests:
        if manifest.owns_schema:
            other = owners.setdefault(manifest.schema_name, manifest)
            if other is not manifest:
                problems.append(
                    f"{manifest.source}: schema: {manifest.schema_name!r} is also the schema of "
                    f"{other.source}; each app owns its schema"
                )
    creators: dict[str, AppManifest] = {}
    for manifest in manifests:
        for file in migrations.get(manifest.app, ()):
            for table in created_tables(file):
                schema = table.name[0]
                owner = owners.get(schema) or creators.setdefault(schema, manifest)
                if owner is not manifest:
                    problems.append(
                        f"{table.source}:{table.line}: creates {'.'.join(table.name)} in the "
                        f"schema of {owner.source}; each app creates tables in its own schema "
                        f"({manifest.source}: schema)"
                    )
    if problems:
        raise SupastackError("\n".join(dict.fromkeys(problems)))
