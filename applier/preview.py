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

from applier import imports
from applier.dynamic_host import DynamicHost, ProviderError
from applier.errors import ResourceFailedError, plain
from applier.options import (
    Key,
    ProtectedError,
    ResourceOptionsSeen,
    SeenOptions,
    being_registered,
    matching_state,
    secret_outputs,
)
from applier.records import Applied
from applier.steps import CREATE, REPLACE, SAME, UPDATE, changed_inputs, decide

Outputs = dict[str, Any]

DELETE, IMPORT = "delete", "import"
SYMBOLS = {CREATE: "+", IMPORT: "=", UPDATE: "~", REPLACE: "+-", DELETE: "-"}


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
    warnings: list[str] = field(default_factory=list)
    """The engine's diagnostics (an import whose inputs do not match)."""

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.op != SAME]

    def render(self) -> str:
        lines = [line for step in self.changes for line in step.lines()]
        lines += [f"warning: {warning}" for warning in self.warnings]
        counts = {op: sum(s.op == op for s in self.changes) for op in SYMBOLS}
        summary = ", ".join(f"{n} to {op}" for op, n in counts.items() if n)
        lines.append(f"Resources: {summary or 'no changes'}; {self.unchanged} unchanged")
        return "\n".join(lines)


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
        self._pending_deletion = any(a.delete for a in previous or [])
        self._lock = threading.Lock()
        self._conninfo = ""
        """The postgresql provider's connection, where an import is read (as in the update)."""
        self.registered: set[Key] = set()
        self._aliased: set[Key] = set()
        self.seen: dict[Key, tuple[Outputs, SeenOptions]] = {}
        """Each registration's inputs and options (what an unchanged update checks)."""
        self._same_record: dict[Key, bool] = {}
        """Whether the record of a resource the plan leaves unchanged stays as it is."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, Outputs]:
        inputs = plain(dict(args.inputs))
        options = being_registered(args.typ, args.name)
        key = options.urn
        with self._lock:
            self.registered.add(key)
            old = matching_state(self._previous, options, self._aliased)
            self.seen[key] = (inputs, options)
            self._same_record[key] = old is not None and (
                old.protect, old.retain_on_delete, old.secrets,
            ) == (options.protect, options.retain_on_delete,
                  secret_outputs(args, old.outputs, options))  # fmt: skip
        if not args.custom:
            return f"{args.name}-preview", dict(args.inputs)
        try:
            step = self._step(args.typ, args.name, inputs, old, options)
        except (ProviderError, ProtectedError) as error:
            kind = args.typ.rsplit(":", 1)[-1]
            raise ResourceFailedError(f"{kind} {args.name} (preview): {error}") from error
        with self._lock:
            self.plan.steps.append(step)
            self.plan.unchanged += step.op == SAME
        if step.op == SAME and old is not None:
            return old.id, old.outputs
        return f"{args.name}-preview", dict(args.inputs)

    def _step(
        self, typ: str, name: str, inputs: Outputs, old: Applied | None, options: SeenOptions
    ) -> Step:
        if typ == imports.PROVIDER:
            self._conninfo = imports.provider_conninfo(inputs)
        if self._host is None or not typ.startswith("pulumi-python:dynamic/"):
            if old is None and options.import_id and self._conninfo:
                self._read_import(typ, name, inputs, options)
            if old is None:
                return Step(IMPORT if options.import_id else CREATE, typ, name)
            changed = changed_inputs(old.outputs, inputs)
            return Step(UPDATE if changed else SAME, typ, name, changed)
        decision = decide(self._host, typ, name, inputs, old, options=options)
        return Step(decision.op, typ, name, decision.changed, decision.replacing)

    def _read_import(self, typ: str, name: str, inputs: Outputs, options: SeenOptions) -> None:
        """The engine's preview of an import: the object read (missing, it fails), a mismatch
        a warning (the update fails on it)."""
        fields = imports.differing(self._conninfo, typ, options.import_id, inputs,
                                   options.ignore_changes)  # fmt: skip
        if fields:
            kind = typ.rsplit(":", 1)[-1]
            with self._lock:
                self.plan.warnings.append(f"{kind} {name}: {imports.MISMATCH}: "
                                          f"[{' '.join(fields)}]; importing this resource "
                                          "will fail")  # fmt: skip

    def unchanged(self) -> bool:
        """Whether the update would change nothing, in the resources or in their records: every
        step same, every recorded resource registered again under its own name (no alias, no
        deletion, no replaced one pending), each with the protect, retain_on_delete and secret
        outputs it was recorded with. Then the update need not run the program again."""
        return (
            not self.plan.changes
            and not self._aliased
            and not self._pending_deletion
            and set(self.seen) == set(self._previous)
            and all(self._same_record.values())
        )

    def deletions(self) -> None:
        """What the previous run had and the program no longer registers (under its name or an
        alias), newest first; a protected one fails the preview as it would the update."""
        for key, old in reversed(self._previous.items()):
            if key in self.registered or key in self._aliased or old.id.endswith("-component"):
                continue
            if old.protect and self._host is not None:
                raise ProtectedError("delete", self._host.urn_of(old))
            self.plan.steps.append(Step(DELETE, old.typ, old.name))

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[Outputs, None]:
        return {}, None
