"""The apps of a stack as a graph: who depends on whom, in which order they deploy.

An app names the apps it uses in ``dependsOn``; every resource of it then waits for their
migrations and functions (Pulumi runs everything else in parallel). The platform's own apps
come first, and monitoring is an implicit dependency of every app with functions (they record
each invocation there) or alert rules (rows there). Unknown apps, apps the stack does not
deploy, and cycles are refused before anything is declared, naming the manifests.
"""

from __future__ import annotations

from collections.abc import Sequence
from graphlib import CycleError, TopologicalSorter

from supastack.errors import SupastackError
from supastack.manifest import AppManifest
from supastack.settings import MONITORING_APP, PLATFORM_APPS


def platform_apps_used(manifest: AppManifest) -> tuple[str, ...]:
    """The platform apps an app relies on: every function records its invocations and takes
    rate-limit tokens in the monitoring app's tables, and every alert rule is a row there."""
    if manifest.app in PLATFORM_APPS or not (manifest.functions or manifest.alerts):
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
