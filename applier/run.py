"""What ``python -m applier --project DIR --stack local`` runs (``supastack local deploy``).

Deploys the stack to the running local environment with the offline applier, keeping its
records in the stack's state directory (``deploy-records.json``) so the next run changes only
what changed, and writing the stack outputs there (``outputs.json``, mode 0600) for
``supastack smoke``; ``--preview`` prints the plan instead and applies nothing. Each run is
an entry of the stack's history (``supastack.local.history``),
with ``--message``; ``--refresh`` reads every resource's live state first, as ``pulumi up
--refresh`` does, so hand edits are undone. It refuses stacks whose target is not ``local``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from applier.engine import deploy, preview, stack_config
from applier.errors import DeployError
from applier.records import Applied, RecordsFile, load_records
from supastack.config import settings
from supastack.delivery.outputs import OFFLINE_OUTPUTS as OUTPUTS
from supastack.local import history
from supastack.sealed import Sealer
from supastack.targets import Engine, local_target

NOT_PULUMI = (
    "This is supastack's offline applier, not `pulumi up`: it runs the program under Pulumi's "
    "mock runtime and applies each resource through the same providers. Staging and prod are "
    "deployed with the Pulumi CLI."
)
RECORDS = "deploy-records.json"


def run(project: Path, stack_name: str, *, message: str = "", refresh: bool = False) -> int:
    project = project.resolve()  # paths in the inputs are absolute: a relative one would differ
    stack = settings.load(project, stack_name)
    # the offline applier deploys only the local target, and only a stack no other engine has
    local_target(stack, project, "the offline applier").require_engine(Engine.APPLIER)
    state = stack.local.state_path(project)
    records = state / RECORDS
    sealer = Sealer.of_state(state)
    print(NOT_PULUMI, flush=True)
    started = time.monotonic()
    config = stack_config(stack.source, {}, project)
    entry = {
        "message": message,
        "startTime": history.now(),
        "environment": history.git_environment(project),
        "config": history.public_config(config),
    }

    def progress(action: str, applied: Applied) -> None:
        """A line per change as it happens, with the time since the start."""
        kind = applied.typ.rsplit(":", 1)[-1]
        elapsed = time.monotonic() - started
        print(f"  {action:<9} {kind:<20} {applied.name}  ({elapsed:.1f} s)", flush=True)

    checkpoints = RecordsFile(records, sealer)
    try:
        deployment = deploy(
            config,
            previous=load_records(records, sealer),
            project=project,
            seed=None,  # a random valid order; SUPASTACK_APPLY_SEED replays a failed one
            checkpoint=checkpoints.save,
            on_change=progress,
            refresh=refresh,
        )
    except DeployError as error:
        history.append(state, {**entry, "result": "failed", "endTime": history.now()})
        print(f"error: {error}", file=sys.stderr)
        print(f"The records in {records} match what was applied: run it again to go on.")
        return 1
    finally:
        checkpoints.compact()  # the file whole again, the journal gone
    counts = Counter(action for action, _ in deployment.mocks.actions)
    result = "failed" if deployment.mocks.violations else "succeeded"
    changes = {
        a: counts[a] for a in ("created", "imported", "updated", "replaced", "deleted") if counts[a]
    }
    version = history.append(
        state, {**entry, "result": result, "endTime": history.now(), "resourceChanges": changes}
    )
    deployment.write_outputs(state / OUTPUTS)
    summary = ", ".join(
        f"{counts[a]} {a}" for a in ("created", "updated", "replaced", "deleted", "unchanged")
    ) + (f" ({counts['imported']} imported)" if counts["imported"] else "")
    print(
        f"update {version}: {summary} in {time.monotonic() - started:.1f} s; outputs in "
        f"{state / OUTPUTS}"
    )
    if deployment.mocks.violations:
        print("policy violations:\n  " + "\n  ".join(deployment.mocks.violations), file=sys.stderr)
        return 1
    print(NOT_PULUMI)
    return 0


def run_preview(project: Path, stack_name: str, *, expect_no_changes: bool = False) -> int:
    """The plan of an update over the stack's records, nothing applied (``pulumi preview
    --diff``); with ``expect_no_changes``, exit 1 on any change (as Pulumi's flag does)."""
    project = project.resolve()
    stack = settings.load(project, stack_name)
    local_target(stack, project, "the offline applier").require_engine(Engine.APPLIER)
    records = stack.local.state_path(project) / RECORDS
    print(NOT_PULUMI.replace("`pulumi up`", "`pulumi preview`"), flush=True)
    try:
        previous = load_records(records, Sealer.of_state(records.parent))
        plan = preview(stack_config(stack.source, {}, project), previous=previous, project=project)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(plan.render())
    if expect_no_changes and plan.changes:
        print(f"error: no changes were expected; {len(plan.changes)} found", file=sys.stderr)
        return 1
    return 0
