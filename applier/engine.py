"""The offline applier's engine: run the real program and apply what it registers.

The Pulumi CLI and its provider plugins cannot run here, so this runs ``__main__.py`` under
``pulumi.runtime.set_mocks`` twice:

1. as a preview, recording every resource and what it depends on (the ``dependencies``,
   ``parent`` and ``provider`` of its ``RegisterResource`` request: exactly what the engine
   orders by);
2. for real, with mocks that *apply* each resource, in a random order that respects only those
   declared dependencies (seeded; the seed is in every failure). The Pulumi engine runs
   independent resources in parallel, so a dependency that holds only because of registration
   order is a race there: here it fails a test (``applier.ordering``).

Resources are applied as follows:

- dynamic resources (migrations, policies, functions, secrets, cron jobs, alert rules) go
  through the Pulumi SDK's own dynamic-provider host, over its gRPC protocol, as the engine
  sends them (``applier.dynamic_host``): the host unpickles each provider, never the applier;
- ``postgresql.*`` resources through small SQL equivalents (``applier.equivalents``), against
  the connection of the registered ``postgresql`` provider;
- ``random.RandomPassword`` and ``random.RandomId`` through ``secrets``, made once;
- component resources and providers are recorded only.

Every resource also goes through the policy pack's mandatory validators (``violations``).

Resource options are honoured as the engine honours them (``applier.options``,
``applier.steps``, ``applier.applying``). Given the previous run's records, a resource
registered again is diffed and changed only when its inputs changed (with ``refresh``, against
its live state as its provider reads it, as ``pulumi up --refresh`` does), and what the program
no longer registers is deleted, newest first. The records are checkpointed after every change,
so a run that fails part-way leaves them matching
what was applied, and the next run goes on from there.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import runpy
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from applier.applying import ApplyingMocks, refreshed
from applier.dynamic_host import DynamicHost
from applier.errors import DeployError, ResourceFailedError
from applier.ordering import ApplyOrder, RecordingMonitor, ResourceGraph
from applier.preview import Plan, PreviewMocks
from applier.records import Applied
from supastack.config import settings
from supastack.local.paths import PROJECT_DIR
from supastack.private_files import write_private
from supastack.sealed import Sealer


def stack_config(
    stack_file: str, overrides: Mapping[str, object], project: Path = PROJECT_DIR
) -> dict[str, str]:
    """A stack file's supastack config as Pulumi hands it to the program, with overrides."""
    config = yaml.safe_load((project / stack_file).read_text())["config"]
    merged = {**config, **{f"supastack:{k}": v for k, v in overrides.items()}}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}


@dataclass
class Deployment:
    """What a harness run applied, and the stack outputs the program exported."""

    mocks: ApplyingMocks
    outputs: dict[str, Any]
    seed: int
    """The seed of the apply order (``SUPASTACK_APPLY_SEED`` replays it)."""
    graph: ResourceGraph
    """What each resource waits for, as the preview recorded it."""
    secret_outputs: frozenset[str] = field(default_factory=frozenset)
    """The stack outputs the program exported as secrets."""

    def write_outputs(self, path: Path) -> Path:
        """The outputs as `pulumi stack output --json` shapes them, the secret ones sealed with
        the stack key beside the file (``supastack.delivery.outputs.load`` opens them)."""
        sealer = Sealer.of_state(path.parent)
        write_private(path, json.dumps(sealer.seal_keys(self.outputs, self.secret_outputs),
                                       indent=2))  # fmt: skip
        return path


def apply_seed() -> int:
    """``SUPASTACK_APPLY_SEED`` to replay a failed run's order, else a fresh random seed."""
    chosen = os.environ.get("SUPASTACK_APPLY_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


#: Resources applied at once unless ``SUPASTACK_APPLY_PARALLEL`` says otherwise (the engine's
#: ``--parallel``, whose default is higher still). Four at a time found three races the
#: one-at-a-time order hid (settings restarting the server under an extension, two GRANTs, RLS
#: next to a GRANT on the same table), each now a declared dependency.
DEFAULT_PARALLEL = 4


def apply_parallel() -> int:
    chosen = os.environ.get("SUPASTACK_APPLY_PARALLEL", "")
    if chosen and not (chosen.isdigit() and int(chosen) >= 1):
        raise DeployError(f"SUPASTACK_APPLY_PARALLEL={chosen!r}: a whole number, 1 or more")
    return int(chosen) if chosen else DEFAULT_PARALLEL


def _run_program(
    config: Mapping[str, str], project: Path, monitor: RecordingMonitor, *, preview: bool
) -> tuple[dict[str, Any], frozenset[str]]:
    """Run ``project``'s ``__main__.py`` for the ``local`` stack under ``monitor``: the stack
    outputs it exports, and which of them are secret."""
    exported: dict[str, Any] = {}
    secret: set[str] = set()
    # Every registration waits for its turn on a thread of the loop's default executor: give it
    # one thread per resource so the one whose turn it is never queues behind the waiting ones.
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=EXECUTOR_THREADS))
    loop.set_exception_handler(_quiet_about_the_failure)
    asyncio.set_event_loop(loop)
    # The keys that hold secrets are secret config, as `pulumi config set --secret` makes them
    # (a test hands the applier secretValues; the local stack file has none).
    secret_keys = [k for k in config if k.rpartition(":")[2] in settings.SECRET_KEYS]
    pulumi.runtime.set_all_config(dict(config), secret_keys)
    pulumi.runtime.set_mocks(
        monitor.applying, project="supastack", stack="local", preview=preview, monitor=monitor
    )
    try:

        @pulumi.runtime.test
        def program() -> Any:
            platform = runpy.run_path(str(project / "__main__.py"))["platform"]
            outputs = {k: pulumi.Output.from_input(v) for k, v in platform.outputs.items()}

            async def secret_names() -> list[str]:
                return [k for k, output in outputs.items() if await output.is_secret()]

            names: pulumi.Output[list[str]] = pulumi.Output.from_input(
                asyncio.ensure_future(secret_names())
            )
            return pulumi.Output.all(
                pulumi.Output.all(**outputs).apply(exported.update), names.apply(secret.update)
            )

        program()
    finally:
        pulumi.runtime.reset_options()
        pulumi.runtime.set_all_config({}, [])
        loop.close()
        asyncio.set_event_loop(asyncio.new_event_loop())
    return exported, frozenset(secret)


def _quiet_about_the_failure(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A resource's failure, which the deploy reports once, also fails the outputs of every
    resource waiting for it; those are not reported again as futures never retrieved."""
    if not isinstance(context.get("exception"), ResourceFailedError):
        loop.default_exception_handler(context)


#: Threads for the program's registrations (more than the program has resources).
EXECUTOR_THREADS = 1000


def deploy(
    config: Mapping[str, str],
    *,
    previous: Deployment | list[Applied] | None = None,
    project: Path = PROJECT_DIR,
    seed: int | None = None,
    checkpoint: Callable[[list[Applied]], None] | None = None,
    on_change: Callable[[str, Applied], None] | None = None,
    refresh: bool = False,
) -> Deployment:
    """Run ``project``'s ``__main__.py`` for the ``local`` stack with ``config``, applying every
    resource in a random order that respects the declared dependencies; with ``previous`` (a
    deployment, or the records of one), as an update of it (changes and deletions).
    ``checkpoint`` receives the records after every change, ``on_change`` each change as it
    happens; ``refresh`` reads every resource's live state first, so a hand edit is undone."""
    seed = apply_seed() if seed is None else seed
    before = previous.mocks.records() if isinstance(previous, Deployment) else previous
    order: ApplyOrder | None = None
    try:
        with DynamicHost(project) as host:
            if refresh and before:  # as `pulumi up --refresh`: the live state, then the update
                read = refreshed(host, before)
                if checkpoint is not None and read != before:
                    checkpoint(read)  # the state as refresh found it, as the engine writes it
                before = read
            # as `pulumi up` does: a preview first (check and diff with unknowns), then the update
            planned = PreviewMocks(host, before)
            planning = RecordingMonitor(planned, planned.options)
            exported, secret = _run_program(config, project, planning, preview=True)
            planned.deletions()  # a protected resource the program dropped fails here
            mocks = ApplyingMocks(host, before, checkpoint, on_change)
            if planned.unchanged():
                # nothing to apply: the preview's outputs are the recorded ones (the engine's
                # update would find every step same), and running the program again is what
                # made half the time of an unchanged deploy
                mocks.take_unchanged(planned.seen)
            else:
                order = ApplyOrder(planning.graph, seed, apply_parallel())
                exported, secret = _run_program(
                    config, project, RecordingMonitor(mocks, mocks.options, order), preview=False
                )
                mocks.finish()
    except Exception as error:
        # the resource that failed, not one that then waited
        cause = (order.failure if order else None) or error
        parallel = order.parallel if order else 1
        exactly = "" if parallel == 1 else ", with SUPASTACK_APPLY_PARALLEL=1 exactly"
        raise DeployError(
            f"deploy failed with apply-order seed {seed} (SUPASTACK_APPLY_SEED={seed} replays "
            f"it{exactly}): {cause}"
        ) from cause
    return Deployment(mocks, exported, seed, planning.graph, secret)


def preview(
    config: Mapping[str, str],
    *,
    previous: list[Applied] | None = None,
    project: Path = PROJECT_DIR,
) -> Plan:
    """What deploying ``project``'s program with ``config`` over ``previous`` would change,
    nothing applied (``pulumi preview --diff``)."""
    try:
        with DynamicHost(project) as host:
            planned = PreviewMocks(host, previous)
            _run_program(config, project, RecordingMonitor(planned, planned.options),
                         preview=True)  # fmt: skip
    except Exception as error:
        raise DeployError(f"preview failed: {error}") from error
    planned.deletions()
    return planned.plan


def applied_of(mocks: ApplyingMocks, typ_suffix: str) -> list[Applied]:
    return [a for a in mocks.applied if a.typ.endswith(typ_suffix)]
