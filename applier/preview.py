"""The applier's preview: what an update would do, nothing applied, as the engine previews it.

The program runs under mocks in preview mode, so an output of a resource that will be created
or replaced in the same update is unknown to what uses it. Every dynamic resource is checked and
diffed through the dynamic host with those unknowns (``Check``/``Diff`` with the sentinel), as
the engine does before ``pulumi up`` applies anything: a provider that cannot take an unknown
fails here, naming the resource. The plan lists each step as ``pulumi preview --diff`` does:
``+`` create, ``~`` update, ``+-`` replace, ``-`` delete, with the input properties whose values
changed (the SDK's ``DiffResult`` has no detailed diff, so the engine shows exactly these) and
those the provider says force a replacement.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown

from applier.dynamic_host import PROVIDER_KEY, DynamicHost, ProviderError
from applier.errors import ResourceFailedError, plain
from applier.ordering import ResourceOptionsSeen
from applier.records import Applied

Outputs = dict[str, Any]

CREATE, UPDATE, REPLACE, DELETE, SAME = "create", "update", "replace", "delete", "same"
SYMBOLS = {CREATE: "+", UPDATE: "~", REPLACE: "+-", DELETE: "-"}


@dataclass(frozen=True)
class Step:
    op: str
    typ: str
    name: str
    changed: tuple[str, ...] = ()
    replacing: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        kind = self.typ.rsplit(":", 1)[-1]
        symbol = SYMBOLS[self.op]
        head = f"  {symbol:<2} {kind:<22} {self.name}  {self.op}"
        details = [
            f"      {'+-' if key in self.replacing else '~ '} {key}"
            + ("  (forces replacement)" if key in self.replacing else "")
            for key in self.changed
        ]
        return [head, *details]


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.op != SAME]

    def render(self) -> str:
        lines = [line for step in self.changes for line in step.lines()]
        counts = {op: sum(s.op == op for s in self.changes) for op in SYMBOLS}
        summary = ", ".join(f"{n} to {op}" for op, n in counts.items() if n)
        lines.append(f"Resources: {summary or 'no changes'}; {self.unchanged} unchanged")
        return "\n".join(lines)


def _known(value: Any) -> bool:
    if isinstance(value, Unknown):
        return False
    if isinstance(value, dict):
        return all(_known(v) for v in value.values())
    if isinstance(value, list):
        return all(_known(v) for v in value)
    return True


def changed_inputs(old: Outputs, news: Outputs) -> tuple[str, ...]:
    """The inputs whose values differ from the state's (an unknown value counts as changed)."""
    return tuple(sorted(
        key for key, value in news.items()
        if key != PROVIDER_KEY and (not _known(value) or old.get(key) != value)
    ))  # fmt: skip


class PreviewMocks(pulumi.runtime.Mocks):
    """Mocks for the preview pass: nothing is applied. A resource the plan leaves unchanged
    answers its recorded outputs; any other answers its inputs, every other output unknown."""

    def __init__(
        self, host: DynamicHost | None = None, previous: list[Applied] | None = None
    ) -> None:
        self.options: ResourceOptionsSeen = {}
        self.plan = Plan()
        self._host = host
        self._previous = {a.key: a for a in previous or []}
        self._lock = threading.Lock()
        self.registered: set[tuple[str, str]] = set()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, Outputs]:
        inputs = plain(dict(args.inputs))
        key = (args.typ, args.name)
        old = self._previous.get(key)
        with self._lock:
            self.registered.add(key)
        if not args.custom:
            return f"{args.name}-preview", dict(args.inputs)
        try:
            step = self._step(args.typ, args.name, inputs, old)
        except ProviderError as error:
            kind = args.typ.rsplit(":", 1)[-1]
            raise ResourceFailedError(f"{kind} {args.name} (preview): {error}") from error
        with self._lock:
            self.plan.steps.append(step)
            self.plan.unchanged += step.op == SAME
        if step.op == SAME and old is not None:
            return old.id, old.outputs
        return f"{args.name}-preview", dict(args.inputs)

    def _step(self, typ: str, name: str, inputs: Outputs, old: Applied | None) -> Step:
        if self._host is None or not typ.startswith("pulumi-python:dynamic/"):
            if old is None:
                return Step(CREATE, typ, name)
            changed = changed_inputs(old.outputs, inputs)
            return Step(UPDATE if changed else SAME, typ, name, changed)
        urn = self._host.urn(typ, name)
        olds = {**old.outputs, PROVIDER_KEY: old.provider} if old else {}
        checked = self._host.check(urn, olds, inputs)
        if checked.failures:
            raise ProviderError("; ".join(f"{p}: {r}" if p else r for p, r in checked.failures))
        news = {**checked.inputs, PROVIDER_KEY: inputs[PROVIDER_KEY]}
        if old is None:
            return Step(CREATE, typ, name)
        diff = self._host.diff(urn, old.id, olds, news)
        changed = changed_inputs(old.outputs, news)
        if diff.changes is False:
            return Step(SAME, typ, name)
        op = REPLACE if diff.replaces else UPDATE
        return Step(op, typ, name, changed or tuple(diff.replaces), tuple(diff.replaces))

    def deletions(self) -> None:
        """What the previous run had and the program no longer registers, newest first."""
        for key, old in reversed(self._previous.items()):
            if key not in self.registered and not old.id.endswith("-component"):
                self.plan.steps.append(Step(DELETE, old.typ, old.name))

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[Outputs, None]:
        return {}, None
