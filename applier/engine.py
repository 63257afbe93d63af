"""The offline applier's engine: run the real program and apply what it registers.

The Pulumi CLI and its provider plugins cannot run here, so this runs ``__main__.py`` under
``pulumi.runtime.set_mocks`` twice:

1. as a preview, recording every resource and what it depends on (the ``dependencies``,
   ``parent`` and ``provider`` of its ``RegisterResource`` request: exactly what the engine
   orders by);
2. for real, with mocks that *apply* each resource, in a random order that respects only those
   declared dependencies (seeded; the seed is in every failure). The Pulumi engine runs
   independent resources in parallel, so a dependency that holds only because of registration
   order is a race there: here it fails a test.

Resources are applied as follows:

- dynamic resources (migrations, policies, functions, secrets, cron jobs, alert rules) go
  through their own providers, unpickled from ``__provider`` as the Pulumi engine would;
- ``postgresql.*`` resources through small SQL equivalents (below), against the connection of
  the registered ``postgresql`` provider;
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
import base64
import json
import os
import random
import runpy
import secrets
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import dill  # type: ignore[import-untyped]
import pulumi
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from policy import validators
from supastack.config import settings
from supastack.database.postgres import connect
from supastack.database.privileges import PrivilegeStep, step_statements
from supastack.database.specs import ExtensionSpec
from supastack.local.paths import PROJECT_DIR
from supastack.private_files import write_private

Outputs = dict[str, Any]


@dataclass
class Applied:
    typ: str
    name: str
    id: str
    outputs: Outputs = field(repr=False)
    provider: str | None = field(default=None, repr=False)
    """A dynamic resource's pickled provider: deletes run the code that created it."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.typ, self.name)

    def record(self) -> dict[str, Any]:
        return {
            "typ": self.typ, "name": self.name, "id": self.id, "outputs": self.outputs,
            "provider": self.provider,
        }  # fmt: skip


#: What happened to a resource in a run.
CREATED, UPDATED, REPLACED, UNCHANGED, DELETED = (
    "created", "updated", "replaced", "unchanged", "deleted",
)  # fmt: skip


def save_records(path: Path, applied: list[Applied]) -> None:
    """The records as JSON, atomically, readable by the owner only (they hold the database
    password and the Management API token, like the credentials beside them)."""
    write_private(path, json.dumps([a.record() for a in applied]))


def load_records(path: Path) -> list[Applied]:
    if not path.exists():
        return []
    return [Applied(**record) for record in json.loads(path.read_text())]


def _provider(blob: str) -> Any:
    # our own provider, pickled by the program (what the engine unpickles, too)
    return dill.loads(base64.b64decode(blob))  # noqa: S301


def _step(inputs: Mapping[str, Any], scope: Literal["existing", "future"]) -> PrivilegeStep:
    """A postgresql.Grant or DefaultPrivileges resource's inputs as the step they came from."""
    return PrivilegeStep(
        label="", scope=scope, role=inputs["role"], object_type=inputs["objectType"],
        privileges=list(inputs.get("privileges") or []), objects=list(inputs.get("objects") or []),
        owner=inputs.get("owner") or "postgres",
    )  # fmt: skip


def _grant(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    """postgresql.Grant: exactly the listed privileges on a schema or its objects."""
    return step_statements(_step(inputs, "existing"), inputs["schema"])


def _default_privileges(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    return step_statements(_step(inputs, "future"), inputs["schema"])


def _role(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    name = sql.Identifier(inputs["name"])
    login = sql.SQL("LOGIN" if inputs.get("login") else "NOLOGIN")
    statements: list[sql.Composed] = [
        sql.SQL("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN "
                "CREATE ROLE {}; END IF; END $$").format(sql.Literal(inputs["name"]), name),
        sql.SQL("ALTER ROLE {} {} PASSWORD {}").format(
            name, login, sql.Literal(inputs.get("password"))
        ),
    ]  # fmt: skip
    statements += [
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(member), name)
        for member in inputs.get("roles") or []
    ]
    return statements


#: postgresql resources and their SQL equivalents.
SQL_EQUIVALENTS: dict[str, Callable[[Mapping[str, Any]], list[sql.Composed]]] = {
    "postgresql:index/extension:Extension": lambda i: ExtensionSpec(
        name=i["name"], schema_=i["schema"]
    ).create_statements(),
    "postgresql:index/schema:Schema": lambda i: [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(i["name"]))
    ],
    "postgresql:index/role:Role": _role,
    "postgresql:index/grant:Grant": _grant,
    "postgresql:index/defaultPrivileges:DefaultPrivileges": _default_privileges,
}


def _random_password(inputs: Mapping[str, Any]) -> Outputs:
    length = int(inputs.get("length", 32))  # numbers cross the wire as floats
    return {"result": secrets.token_urlsafe(length)[:length]}


def _random_id(inputs: Mapping[str, Any]) -> Outputs:
    made = secrets.token_bytes(int(inputs["byteLength"]))
    return {"b64Std": base64.b64encode(made).decode(), "hex": made.hex()}


#: pulumi-random resources and what they make.
RANDOM_EQUIVALENTS: dict[str, Callable[[Mapping[str, Any]], Outputs]] = {
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
}


def plain(value: Any) -> Any:
    """Unwrap Pulumi's secret envelopes (the engine hands providers plain values)."""
    if isinstance(value, dict):
        if rpc._special_sig_key in value:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


#: (protect, secret outputs) of each resource, by (type, name), as the monitor saw them.
ResourceOptionsSeen = dict[tuple[str, str], tuple[bool, list[str]]]


class PreviewMocks(pulumi.runtime.Mocks):
    """Mocks for the preview pass: nothing is applied; outputs not in the inputs stay unknown."""

    def __init__(self) -> None:
        self.options: ResourceOptionsSeen = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, Outputs]:
        return f"{args.name}-preview", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[Outputs, None]:
        return {}, None


class ApplyingMocks(pulumi.runtime.Mocks):
    """Mocks that apply every resource to the local target, one at a time.

    Given the previous run's state, a resource registered again is diffed through its provider
    and updated (or replaced) only if it changed; :meth:`finish` then deletes what the program
    no longer registers, newest first, with the providers that created it: what ``pulumi up``
    does for an older program.
    """

    def __init__(
        self,
        previous: list[Applied] | None = None,
        checkpoint: Callable[[list[Applied]], None] | None = None,
        on_change: Callable[[str, Applied], None] | None = None,
        *,
        refresh: bool = False,
    ) -> None:
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
            self.applied.append(applied)
            if args.custom:
                self._record_action(action, applied)
            self._save()
            return applied.id, applied.outputs

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
                _provider(gone.provider).delete(gone.id, gone.outputs)
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

    @staticmethod
    def _refreshed(old: Applied | None) -> Applied | None:
        """The resource as its provider reads it now: a hand edit shows as a change, which the
        diff then undoes; a resource found gone is created again."""
        if old is None or old.provider is None:
            return old
        live = _provider(old.provider).read(old.id, old.outputs)
        if not live.id:
            return None
        return Applied(old.typ, old.name, live.id, dict(live.outs or {}), old.provider)

    @staticmethod
    def _dynamic(typ: str, name: str, inputs: Outputs, old: Applied | None) -> tuple[Applied, str]:
        blob = inputs.pop("__provider")
        provider = _provider(blob)
        checked = provider.check(old.outputs if old else {}, inputs)
        if checked.failures:
            raise RuntimeError("; ".join(f.reason for f in checked.failures))
        news = checked.inputs
        if old is not None:
            diff = provider.diff(old.id, old.outputs, news)
            if not diff.changes:
                return Applied(typ, name, old.id, old.outputs, blob), UNCHANGED
            if not diff.replaces:
                updated = provider.update(old.id, old.outputs, news)
                return Applied(typ, name, old.id, dict(updated.outs or {}), blob), UPDATED
            _provider(old.provider or blob).delete(old.id, old.outputs)
        created = provider.create(news)
        action = CREATED if old is None else REPLACED
        return Applied(typ, name, str(created.id), dict(created.outs or {}), blob), action


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

    def write_outputs(self, path: Path) -> Path:
        """The outputs as `pulumi stack output --json --show-secrets` would print them."""
        write_private(path, json.dumps(self.outputs, indent=2))
        return path


#: Resources the engine registers itself; nothing orders after them.
UNGATED_TYPES = {"pulumi:pulumi:Stack"}
#: How long the turn may stay with a resource that does not register before the run is declared
#: stuck (it waits on something the preview did not show): a deadlock guard, not a synchronisation.
STALL_TIMEOUT_S = 60.0


@dataclass
class ResourceGraph:
    """Every resource the program registers, by URN, and the URNs its registration waits for.

    A component's own dependencies hold its children back too: a child's registration awaits
    its parent's URN, which resolves only once the component's dependencies have registered.
    """

    waits_for: dict[str, set[str]] = field(default_factory=dict)
    custom: set[str] = field(default_factory=set)

    def record(self, urn: str, request: Any) -> None:
        waits = set(request.dependencies)
        if request.parent:
            waits.add(request.parent)
        # "<urn>::<id>": a resource's provider, and a component's providers for its children
        # (the component registers once they have, and its children after it)
        for reference in [request.provider, *request.providers.values()]:
            if reference:
                waits.add(reference.rsplit("::", 1)[0])
        self.waits_for[urn] = waits
        if request.custom:
            self.custom.add(urn)

    def custom_dependencies(self) -> dict[str, set[str]]:
        """For each custom resource, the custom resources it waits for, through components."""
        expanded: dict[str, set[str]] = {}

        def through(urn: str) -> set[str]:
            if urn not in expanded:
                expanded[urn] = set()  # a cycle would have failed the preview
                found: set[str] = set()
                for waited in self.waits_for.get(urn, set()):
                    found |= {waited} if waited in self.custom else through(waited)
                expanded[urn] = found
            return expanded[urn]

        return {urn: through(urn) for urn in self.custom}

    def waits_transitively(self) -> dict[str, set[str]]:
        """For each custom resource, every custom resource that must be applied before it."""
        direct = self.custom_dependencies()
        closed: dict[str, set[str]] = {}

        def before(urn: str) -> set[str]:
            if urn not in closed:
                closed[urn] = set(direct[urn])
                for waited in direct[urn]:
                    closed[urn] |= before(waited)
            return closed[urn]

        return {urn: before(urn) for urn in direct}


class ApplyOrder:
    """Lets one resource apply at a time, picked at random among those whose dependencies are
    applied (Kahn's algorithm with a seeded random choice): any order the engine's parallelism
    could produce.
    """

    def __init__(self, graph: ResourceGraph, seed: int) -> None:
        self.seed = seed
        self._waits = graph.custom_dependencies()
        self._random = random.Random(seed)  # noqa: S311 (an order to replay, not a secret)
        self._done: set[str] = set()
        self._arrived: set[str] = set()
        self._failed: BaseException | None = None
        self._turn = threading.Condition()
        self._current = self._pick()

    def _pick(self) -> str | None:
        done = self._done
        ready = sorted(
            urn for urn, waits in self._waits.items() if urn not in done and waits <= done
        )
        return self._random.choice(ready) if ready else None

    @property
    def failure(self) -> BaseException | None:
        """The first resource's failure, which stopped the others."""
        return self._failed

    def _moved_on(self, turn: str | None) -> bool:
        return self._failed is not None or self._current != turn

    def run(self, urn: str, apply: Callable[[], Any]) -> Any:
        """Wait for ``urn``'s turn, apply it, and hand the turn on."""
        if urn not in self._waits:
            raise RuntimeError(f"{urn} was not registered by the preview: the program must "
                               "register the same resources on every run")  # fmt: skip
        with self._turn:
            self._arrived.add(urn)
            self._turn.notify_all()
            while self._failed is None and self._current != urn:
                waiting_for = self._current
                moved = self._turn.wait_for(partial(self._moved_on, waiting_for), STALL_TIMEOUT_S)
                if not moved and waiting_for not in self._arrived:
                    raise RuntimeError(
                        f"{urn} waited {STALL_TIMEOUT_S:.0f} s for {waiting_for}, which never "
                        f"registered: it depends on something the preview did not show "
                        f"(seed {self.seed})"
                    )
            if self._failed is not None:
                raise RuntimeError(f"{urn} not applied: an earlier resource failed") from None
        try:
            result = apply()
        except BaseException as error:
            with self._turn:
                self._failed = error
                self._turn.notify_all()
            raise
        with self._turn:
            self._done.add(urn)
            self._current = self._pick()
            self._turn.notify_all()
        return result


class RecordingMonitor(MockMonitor):
    """The mock monitor, recording each resource's dependencies and options (protect, secret
    outputs: what the policies need), and applying custom resources in ``order`` when given.
    """

    def __init__(
        self, mocks: ApplyingMocks | PreviewMocks, order: ApplyOrder | None = None
    ) -> None:
        super().__init__(mocks)
        self.applying = mocks
        self.graph = ResourceGraph()
        self.order = order

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        self.applying.options[(request.type, request.name)] = (
            bool(request.protect),
            list(request.additionalSecretOutputs),
        )
        register: Callable[[Any], Any] = super().RegisterResource
        if request.type in UNGATED_TYPES:
            return register(request)
        urn: str = self.make_urn(request.parent, request.type, request.name)
        self.graph.record(urn, request)
        if self.order is None or not request.custom:
            return register(request)
        return self.order.run(urn, lambda: register(request))


class ResourceFailedError(RuntimeError):
    """Applying one resource failed; the message names it (type and name) and says why."""


class DeployError(RuntimeError):
    """A harness run failed; the message names the seed that replays its apply order."""


def apply_seed() -> int:
    """``SUPASTACK_APPLY_SEED`` to replay a failed run's order, else a fresh random seed."""
    chosen = os.environ.get("SUPASTACK_APPLY_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


def _run_program(
    config: Mapping[str, str], project: Path, monitor: RecordingMonitor, *, preview: bool
) -> dict[str, Any]:
    """Run ``project``'s ``__main__.py`` for the ``local`` stack under ``monitor``."""
    exported: dict[str, Any] = {}
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
            return pulumi.Output.all(**platform.outputs).apply(exported.update)

        program()
    finally:
        pulumi.runtime.reset_options()
        pulumi.runtime.set_all_config({}, [])
        loop.close()
        asyncio.set_event_loop(asyncio.new_event_loop())
    return exported


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
    planning = RecordingMonitor(PreviewMocks())
    _run_program(config, project, planning, preview=True)
    before = previous.mocks.records() if isinstance(previous, Deployment) else previous
    mocks = ApplyingMocks(before, checkpoint, on_change, refresh=refresh)
    order = ApplyOrder(planning.graph, seed)
    try:
        exported = _run_program(config, project, RecordingMonitor(mocks, order), preview=False)
        mocks.finish()
    except Exception as error:
        cause = order.failure or error  # the resource that failed, not one that then waited
        raise DeployError(
            f"deploy failed with apply-order seed {seed} (SUPASTACK_APPLY_SEED={seed} replays "
            f"it): {cause}"
        ) from cause
    return Deployment(mocks, exported, seed, planning.graph)


def applied_of(mocks: ApplyingMocks, typ_suffix: str) -> list[Applied]:
    return [a for a in mocks.applied if a.typ.endswith(typ_suffix)]
