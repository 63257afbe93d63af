"""What the engine decides for one registered dynamic resource, the same for the preview and
the update: ``Check`` (after ``ignore_changes``), ``Diff`` against the state, the replacement
that ``replace_on_changes`` or the provider forces, its order (delete first only when the diff
or the resource says so), ``protect`` refusing it, and ``import_`` (a ``Read`` without
``__provider``, which the dynamic host cannot answer, as under the engine)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pulumi.runtime.rpc import contains_unknowns

from applier.dynamic_host import PROVIDER_KEY, DynamicHost, ProviderError
from applier.options import ProtectedError, SeenOptions, forced_replacements, with_ignored
from applier.records import Applied

Outputs = dict[str, Any]

CREATE, UPDATE, REPLACE, SAME = "create", "update", "replace", "same"


@dataclass(frozen=True)
class Decision:
    op: str
    news: Outputs
    """The checked inputs, ``__provider`` included: what ``Create``/``Update`` get."""
    changed: tuple[str, ...] = ()
    replacing: tuple[str, ...] = ()
    delete_first: bool = False


def changed_inputs(old: Outputs, news: Outputs) -> tuple[str, ...]:
    """The inputs whose values differ from the state's (an unknown value counts as changed)."""
    return tuple(sorted(
        key for key, value in news.items()
        if key != PROVIDER_KEY and (contains_unknowns(value) or old.get(key) != value)
    ))  # fmt: skip


def state_of(applied: Applied) -> Outputs:
    """A dynamic resource's state as the engine sends it back: its outputs and ``__provider``."""
    return {**applied.outputs, PROVIDER_KEY: applied.provider}


def decide(
    host: DynamicHost, typ: str, name: str, inputs: Outputs, old: Applied | None,
    *, options: SeenOptions,
) -> Decision:  # fmt: skip
    """The step for one resource; the same known inputs over the same state are decided once a
    run (the preview's answer is the update's)."""
    key = _memo_key(typ, name, inputs, old, options)
    if key is not None and key in host.decided:
        decided: Decision = host.decided[key]
        return decided
    decision = _decide(host, typ, name, inputs, old, options=options)
    if key is not None:
        host.decided[key] = decision
    return decision


def _memo_key(
    typ: str, name: str, inputs: Outputs, old: Applied | None, options: SeenOptions
) -> str | None:
    if contains_unknowns(inputs):
        return None
    state = None if old is None else (old.id, old.outputs, old.provider, old.protect)
    return json.dumps([typ, name, inputs, state, repr(options)], sort_keys=True, default=str)


def _decide(
    host: DynamicHost, typ: str, name: str, inputs: Outputs, old: Applied | None,
    *, options: SeenOptions,
) -> Decision:  # fmt: skip
    urn = options.urn
    if options.import_id and old is None:
        # the engine's import: Read with the id and no state, so no __provider to run
        host.read(urn, options.import_id, {})
    olds = state_of(old) if old else {}
    inputs = with_ignored(inputs, old.outputs, options.ignore_changes) if old else inputs
    checked = host.check(urn, olds, inputs)
    if checked.failures:
        raise ProviderError("; ".join(f"{prop}: {reason}" if prop else reason
                                      for prop, reason in checked.failures))  # fmt: skip
    news = {**checked.inputs, PROVIDER_KEY: inputs[PROVIDER_KEY]}
    if old is None:
        return Decision(CREATE, news)
    diff = host.diff(urn, old.id, olds, news)
    changed = changed_inputs(old.outputs, news)
    if diff.changes is False:
        return Decision(SAME, news)
    forced = forced_replacements(changed, options.replace_on_changes)
    replacing = tuple(sorted({*diff.replaces, *forced}))
    if not replacing:
        return Decision(UPDATE, news, changed)
    if old.protect or options.protect:
        raise ProtectedError("replace", urn)
    delete_first = diff.delete_before_replace or options.delete_before_replace
    return Decision(REPLACE, news, changed or replacing, replacing, delete_first)
