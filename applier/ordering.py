"""The order the offline applier applies in: the resource graph recorded from the program's
``RegisterResource`` requests (dependencies, parent, provider: what the engine orders by),
and a seeded random order that respects only those dependencies."""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from applier.options import NONE, ResourceOptionsSeen, SeenOptions, make_urn, registering

Outputs = dict[str, Any]


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
    """Lets up to ``parallel`` resources apply at once, each picked at random among those whose
    dependencies are applied (Kahn's algorithm with a seeded random choice): any order the
    engine's ``--parallel`` could produce. With ``parallel`` 1 the seed replays the order
    exactly; with more, which of the running resources finishes first is the machine's.

    Each step costs what it touches, not the whole graph: a finished resource counts down its
    dependents (the ready ones join a sorted list), and wakes only the resource it starts (an
    event each), so a stack ten times larger orders in ten times the work.
    """

    def __init__(self, graph: ResourceGraph, seed: int, parallel: int = 1) -> None:
        self.seed = seed
        self.parallel = parallel
        self._waits = graph.custom_dependencies()
        self._random = random.Random(seed)  # noqa: S311 (an order to replay, not a secret)
        self._remaining = {urn: len(waits) for urn, waits in self._waits.items()}
        self._dependents: dict[str, list[str]] = {}
        for urn, waits in self._waits.items():
            for waited in waits:
                self._dependents.setdefault(waited, []).append(urn)
        self._ready = sorted(urn for urn, left in self._remaining.items() if not left)
        self._started = {urn: threading.Event() for urn in self._waits}
        self._arrived: set[str] = set()
        self._running: set[str] = set()
        self._failed: BaseException | None = None
        self._lock = threading.Lock()
        self._fill()

    def _fill(self) -> None:
        """Start ready resources until ``parallel`` run (under the lock)."""
        while len(self._running) < self.parallel and self._ready:
            urn = self._ready.pop(self._random.randrange(len(self._ready)))
            self._running.add(urn)
            self._started[urn].set()

    @property
    def failure(self) -> BaseException | None:
        """The first resource's failure, which stopped the others."""
        return self._failed

    def run(self, urn: str, apply: Callable[[], Any]) -> Any:
        """Wait for ``urn``'s turn, apply it, and hand the turn on."""
        if urn not in self._waits:
            raise RuntimeError(f"{urn} was not registered by the preview: the program must "
                               "register the same resources on every run")  # fmt: skip
        with self._lock:
            self._arrived.add(urn)
            running = set(self._running)
        while not self._started[urn].wait(STALL_TIMEOUT_S):
            with self._lock:
                missing = running - self._arrived
                if running == self._running and missing:
                    raise RuntimeError(
                        f"{urn} waited {STALL_TIMEOUT_S:.0f} s for {', '.join(sorted(missing))}, "
                        f"which never registered: it depends on something the preview did not "
                        f"show (seed {self.seed})"
                    )
                running = set(self._running)
        if self._failed is not None:
            raise RuntimeError(f"{urn} not applied: an earlier resource failed") from None
        try:
            result = apply()
        except BaseException as error:
            with self._lock:
                self._failed = self._failed or error
                for started in self._started.values():  # every waiting resource stops
                    started.set()
            raise
        with self._lock:
            self._running.discard(urn)
            for dependent in self._dependents.get(urn, ()):
                self._remaining[dependent] -= 1
                if not self._remaining[dependent]:
                    bisect.insort(self._ready, dependent)
            self._fill()
        return result


class RecordingMonitor(MockMonitor):
    """The mock monitor, recording each resource's dependencies and options (what the engine
    and the policies act on), and applying custom resources in ``order`` when given.
    """

    def __init__(
        self, mocks: pulumi.runtime.Mocks, options: ResourceOptionsSeen,
        order: ApplyOrder | None = None,
    ) -> None:  # fmt: skip
        super().__init__(mocks)
        self.applying = mocks
        self.options = options
        self.graph = ResourceGraph()
        self.order = order

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's URN (the SDK's mock monitor keeps only the parent's last type)."""
        return make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        urn: str = self.make_urn(request.parent, request.type, request.name)
        parent = self.options.get(request.parent, NONE)
        seen = self.options[urn] = SeenOptions.of_request(request, urn, parent.aliases)
        register: Callable[[Any], Any] = super().RegisterResource

        def registered() -> Any:
            with registering(seen):
                return register(request)

        if request.type in UNGATED_TYPES:
            return registered()
        self.graph.record(urn, request)
        if self.order is None or not request.custom:
            return registered()
        return self.order.run(urn, registered)
