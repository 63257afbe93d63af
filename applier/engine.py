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

Given the previous run's records, a resource registered again is diffed and changed only when
its inputs changed (with ``refresh``, against its live state as its provider reads it, as
``pulumi up --refresh`` does), and what the program no longer registers is deleted, newest
first. The
records are checkpointed after every change, so a run that fails part-way leaves them matching
what was applied, and the next run goes on from there.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import runpy
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
import yaml
from psycopg.conninfo import make_conninfo

from applier.dynamic_host import PROVIDER_KEY, DynamicHost, ProviderError
from applier.equivalents import RANDOM_EQUIVALENTS, SECRET_BY_SCHEMA, SQL_EQUIVALENTS
from applier.errors import DeployError, ResourceFailedError, is_secret, plain
from applier.ordering import ApplyOrder, RecordingMonitor, ResourceGraph, ResourceOptionsSeen
from applier.preview import Plan, PreviewMocks
from applier.records import (
    CREATED,
    DELETED,
    REPLACED,
    UNCHANGED,
    UPDATED,
    Applied,
)
from policy import validators
from supastack.config import settings
from supastack.database.postgres import connect
from supastack.local.paths import PROJECT_DIR
from supastack.private_files import write_private
from supastack.sealed import Sealer

Outputs = dict[str, Any]


class ApplyingMocks(pulumi.runtime.Mocks):
    """Mocks that apply every resource to the local target, one at a time.

    Given the previous run's state, a resource registered again is diffed through its provider
    and updated (or replaced) only if it changed; :meth:`finish` then deletes what the program
    no longer registers, newest first, with the providers that created it: what ``pulumi up``
    does for an older program.
    """

    def __init__(
        self,
        host: DynamicHost,
        previous: list[Applied] | None = None,
        checkpoint: Callable[[list[Applied]], None] | None = None,
        on_change: Callable[[str, Applied], None] | None = None,
        *,
        refresh: bool = False,
    ) -> None:
        self.host = host
        self.refresh = refresh
        """Read each resource's live state before diffing (``pulumi up --refresh``)."""
        self.applied: list[Applied] = []
        self.deleted: list[Applied] = []
        self.actions: list[tuple[str, Applied]] = []
        """What changed, in order (custom resources only)."""
        self.violations: list[str] = []
        self._checkpoint = checkpoint
        self._on_change = on_change
        #: (protect, secret outputs) the monitor saw, by (type, name): what the policies need
        self.options: ResourceOptionsSeen = {}
        self._previous = {a.key: a for a in previous or []}
        self._previous_order = list(previous or [])
        self._lock = threading.Lock()
        self._conninfo: str | None = None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, Outputs]:
        with self._lock:
            inputs = plain(dict(args.inputs))
            self._check_policies(args.typ, args.name, inputs)
            old = self._previous.get((args.typ, args.name))
            try:
                applied, action = self._apply(args.typ, args.name, inputs, bool(args.custom), old)
            except Exception as error:
                kind = args.typ.rsplit(":", 1)[-1]
                raise ResourceFailedError(f"{kind} {args.name}: {error}") from error
            applied = replace(applied, secrets=self._secret_outputs(args, applied))
            self.applied.append(applied)
            if args.custom:
                self._record_action(action, applied)
            self._save()
            return applied.id, applied.outputs

    def _secret_outputs(
        self, args: pulumi.runtime.MockResourceArgs, applied: Applied
    ) -> tuple[str, ...]:
        """The outputs the engine would keep secret: an input the program passed as a secret,
        one named in ``additional_secret_outputs``, or one secret by the provider's schema."""
        declared = self.options.get((args.typ, args.name), (False, []))[1]
        secret_inputs = [k for k, v in dict(args.inputs).items() if is_secret(v)]
        by_schema = SECRET_BY_SCHEMA.get(args.typ, ())
        chosen = {*declared, *secret_inputs, *by_schema}
        return tuple(sorted(k for k in chosen if k in applied.outputs))

    def _record_action(self, action: str, applied: Applied) -> None:
        self.actions.append((action, applied))
        if self._on_change is not None and action != UNCHANGED:
            self._on_change(action, applied)

    def records(self) -> list[Applied]:
        """What exists now: this run's resources, and the previous run's not yet seen again."""
        seen = {a.key for a in self.applied}
        gone = {a.key for a in self.deleted}
        return [
            *self.applied,
            *(a for a in self._previous_order if a.key not in seen and a.key not in gone),
        ]

    def _save(self) -> None:
        if self._checkpoint is not None:
            self._checkpoint(self.records())

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[Outputs, None]:
        return {}, None

    def _check_policies(self, typ: str, name: str, inputs: Outputs) -> None:
        """Run the policy pack's mandatory validators on the resource, as a preview would."""
        protect, secret_outputs = self.options.get((typ, name), (False, []))
        found = validators.violations(
            typ, name, inputs, protect=protect, secret_outputs=secret_outputs
        )
        self.violations += [f"{typ}::{name}: {message}" for message in found]

    def finish(self) -> None:
        """Delete what the previous run had and this one does not, in reverse order."""
        registered = {a.key for a in self.applied}
        for gone in reversed(self._previous_order):
            if gone.key in registered:
                continue
            if gone.provider is not None:
                self.host.delete(self._urn(gone), gone.id, _with_provider(gone))
            self.deleted.append(gone)
            if not gone.id.endswith("-component"):
                self._record_action(DELETED, gone)
            self._save()

    def _apply(
        self, typ: str, name: str, inputs: Outputs, custom: bool, old: Applied | None
    ) -> tuple[Applied, str]:
        if not custom:
            return Applied(typ, name, f"{name}-component", inputs), UNCHANGED
        if typ == "pulumi:providers:postgresql":
            self._conninfo = make_conninfo(
                host=inputs["host"], port=inputs["port"], dbname=inputs["database"],
                user=inputs["username"], password=inputs["password"], sslmode=inputs["sslmode"],
            )  # fmt: skip
            action = CREATED if old is None else UNCHANGED if old.outputs == inputs else UPDATED
            return Applied(typ, name, f"{name}-provider", inputs), action
        if typ in RANDOM_EQUIVALENTS:
            if old is not None:
                return old, UNCHANGED  # random values are made once
            made = {**inputs, **RANDOM_EQUIVALENTS[typ](inputs)}
            return Applied(typ, name, name, made), CREATED
        if typ in SQL_EQUIVALENTS:
            return self._sql_equivalent(typ, name, inputs, old)
        if typ.startswith("pulumi-python:dynamic/"):
            return self._dynamic(typ, name, inputs, self._refreshed(old) if self.refresh else old)
        raise NotImplementedError(f"the offline applier has no equivalent for {typ}")

    def _sql_equivalent(
        self, typ: str, name: str, inputs: Outputs, old: Applied | None
    ) -> tuple[Applied, str]:
        if old is not None and old.outputs == inputs:
            return old, UNCHANGED
        assert self._conninfo, "the postgresql provider is registered before its resources"
        with connect(self._conninfo) as conn:
            for statement in SQL_EQUIVALENTS[typ](inputs):  # idempotent: safe to repeat
                conn.execute(statement)
        return Applied(typ, name, name, inputs), CREATED if old is None else UPDATED

    def _urn(self, applied: Applied) -> str:
        return self.host.urn(applied.typ, applied.name)

    def _refreshed(self, old: Applied | None) -> Applied | None:
        """The resource as its provider reads it now (``Read`` with the state's properties, as
        ``refresh`` sends it): a hand edit shows as a change, which the diff then undoes; a
        resource found gone is created again."""
        if old is None or old.provider is None:
            return old
        live_id, outs = self.host.read(self._urn(old), old.id, _with_provider(old))
        if not live_id:
            return None
        return Applied(old.typ, old.name, live_id, outs, old.provider)

    def _dynamic(
        self, typ: str, name: str, inputs: Outputs, old: Applied | None
    ) -> tuple[Applied, str]:
        blob = inputs[PROVIDER_KEY]
        urn = self.host.urn(typ, name)
        olds = _with_provider(old) if old else {}
        checked = self.host.check(urn, olds, inputs)
        if checked.failures:
            raise ProviderError("; ".join(f"{prop}: {reason}" if prop else reason
                                          for prop, reason in checked.failures))  # fmt: skip
        news = {**checked.inputs, PROVIDER_KEY: blob}
        if old is not None:
            diff = self.host.diff(urn, old.id, olds, news)
            if diff.changes is False:
                return Applied(typ, name, old.id, old.outputs, blob), UNCHANGED
            if not diff.replaces:
                outs = self.host.update(urn, old.id, olds, news)
                return Applied(typ, name, old.id, outs, blob), UPDATED
            self.host.delete(urn, old.id, olds)
        created_id, outs = self.host.create(urn, news)
        action = CREATED if old is None else REPLACED
        return Applied(typ, name, created_id, outs, blob), action


def _with_provider(applied: Applied) -> Outputs:
    """A dynamic resource's state as the engine sends it back: its outputs and ``__provider``."""
    return {**applied.outputs, PROVIDER_KEY: applied.provider}


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
            # as `pulumi up` does: a preview first (check and diff with unknowns), then the update
            planned = PreviewMocks(host, before)
            planning = RecordingMonitor(planned, planned.options)
            _run_program(config, project, planning, preview=True)
            order = ApplyOrder(planning.graph, seed)
            mocks = ApplyingMocks(host, before, checkpoint, on_change, refresh=refresh)
            exported, secret = _run_program(
                config, project, RecordingMonitor(mocks, mocks.options, order), preview=False
            )
            mocks.finish()
    except Exception as error:
        # the resource that failed, not one that then waited
        cause = (order.failure if order else None) or error
        raise DeployError(
            f"deploy failed with apply-order seed {seed} (SUPASTACK_APPLY_SEED={seed} replays "
            f"it): {cause}"
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
