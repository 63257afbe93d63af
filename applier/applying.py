"""The update's mocks: each registered resource applied to the local target as the engine
applies it, given the previous run's state.

A resource registered again (under its name or an alias) is diffed through its provider and
updated or replaced only if it changed; a replacement creates the new resource first and deletes
the old one at the end of the update (kept in the records as pending deletion meanwhile), unless
the diff or the resource says delete first; :meth:`ApplyingMocks.finish` then deletes what the
program no longer registers, newest first, with the providers that created it. ``protect``
refuses a delete or replacement, ``retain_on_delete`` only forgets the resource
(:mod:`applier.options`, :mod:`applier.steps`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pulumi

from applier import imports
from applier.dynamic_host import PROVIDER_KEY, DynamicHost, ProviderError
from applier.equivalents import RANDOM_EQUIVALENTS, SQL_EQUIVALENTS
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
from applier.records import CREATED, DELETED, IMPORTED, REPLACED, UNCHANGED, UPDATED, Applied
from applier.steps import REPLACE, SAME, UPDATE, decide, state_of
from policy import validators
from supastack.database.postgres import connect, lock_until_commit

Outputs = dict[str, Any]
SQL_LOCK = "supastack.applier.postgresql"


class ApplyingMocks(pulumi.runtime.Mocks):
    """Mocks that apply every resource to the local target, as many at once as the apply order
    lets run (``applier.ordering.ApplyOrder``)."""

    def __init__(
        self,
        host: DynamicHost,
        previous: list[Applied] | None = None,
        checkpoint: Callable[[list[Applied]], None] | None = None,
        on_change: Callable[[str, Applied], None] | None = None,
    ) -> None:
        self.host = host
        self.applied: list[Applied] = []
        self.deleted: list[Applied] = []
        self.actions: list[tuple[str, Applied]] = []
        """What changed, in order (custom resources only)."""
        self.violations: list[str] = []
        self._checkpoint = checkpoint
        self._on_change = on_change
        self.options: ResourceOptionsSeen = {}
        """Each resource's options as the monitor saw them (protect, secret outputs, ...)."""
        live = [a for a in previous or [] if not a.delete]
        self._previous = {a.key: a for a in live}
        self._previous_order = live
        self._pending = [a for a in previous or [] if a.delete]
        """Replaced resources a previous update did not get to delete."""
        self._aliased: set[Key] = set()
        self._lock = threading.Lock()
        self._conninfo: str | None = None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, Outputs]:
        options = being_registered(args.typ, args.name)
        with self._lock:
            inputs = plain(dict(args.inputs))
            self._check_policies(args.typ, args.name, inputs, options)
            old = matching_state(self._previous, options, self._aliased)
        try:  # outside the lock: resources the order runs at once apply at once
            applied, action = self._apply(
                args.typ, args.name, inputs, bool(args.custom), old, options=options
            )
        except Exception as error:
            kind = args.typ.rsplit(":", 1)[-1]
            raise ResourceFailedError(f"{kind} {args.name}: {error}") from error
        applied = replace(
            applied, typ=args.typ, name=args.name, urn=options.urn, protect=options.protect,
            retain_on_delete=options.retain_on_delete,
            secrets=secret_outputs(args, applied.outputs, options),
        )  # fmt: skip
        with self._lock:
            self.applied.append(applied)
            if args.custom:
                self._record_action(action, applied)
            if action != UNCHANGED:  # as the engine elides writes for unchanged steps
                self._save()
        return applied.id, applied.outputs

    def _record_action(self, action: str, applied: Applied) -> None:
        self.actions.append((action, applied))
        if self._on_change is not None and action != UNCHANGED:
            self._on_change(action, applied)

    def records(self) -> list[Applied]:
        """What exists now: this run's resources, the previous run's not yet seen again, and
        the replaced ones waiting for deletion."""
        seen = {a.key for a in self.applied} | self._aliased
        gone = {a.key for a in self.deleted if not a.delete}
        deleted_pending = {id(a) for a in self.deleted if a.delete}
        return [
            *self.applied,
            *(a for a in self._previous_order if a.key not in seen and a.key not in gone),
            *(a for a in self._pending if id(a) not in deleted_pending),
        ]

    def _save(self) -> None:
        if self._checkpoint is not None:
            self._checkpoint(self.records())

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[Outputs, None]:
        return {}, None

    def _check_policies(self, typ: str, name: str, inputs: Outputs, options: SeenOptions) -> None:
        """Run the policy pack's mandatory validators on the resource, as a preview would."""
        found = validators.violations(typ, name, inputs, protect=options.protect,
                                      secret_outputs=list(options.secret_outputs))  # fmt: skip
        self.violations += [f"{typ}::{name}: {message}" for message in found]

    def take_unchanged(self, seen: Mapping[Key, tuple[Outputs, SeenOptions]]) -> None:
        """An update whose preview changes nothing (``PreviewMocks.unchanged``): each resource
        is its record as it was, as the engine's same steps leave it; its policies are checked
        as the apply pass would; nothing is applied or written."""
        moved = False
        for record in self._previous_order:  # the records' order: the same records, unchanged
            inputs, options = seen[record.key]
            self._check_policies(record.typ, record.name, inputs, options)
            kept = record
            if record.provider is not None and record.provider != inputs.get(PROVIDER_KEY):
                kept, moved = replace(record, provider=inputs[PROVIDER_KEY]), True
            self.applied.append(kept)
            if not kept.id.endswith("-component"):
                self._record_action(UNCHANGED, kept)
        if moved:  # the providers' code moved: its records carry the new pickles, as an update
            self._save()

    def finish(self) -> None:
        """Delete the replaced resources (created before their replacements), then what the
        previous run had and this one does not, newest first."""
        for pending in list(self._pending):
            self._delete(pending, record=False)
        registered = {a.key for a in self.applied} | self._aliased
        for gone in reversed(self._previous_order):
            if gone.key not in registered:
                self._delete(gone, record=not gone.id.endswith("-component"))
        self._save()  # what changed in the state only: renames by alias, protect flags

    def _delete(self, applied: Applied, *, record: bool) -> None:
        if applied.protect:
            raise ProtectedError("delete", self.host.urn_of(applied))
        if applied.provider is not None and not applied.retain_on_delete:
            self.host.delete(self.host.urn_of(applied), applied.id, state_of(applied))
        self.deleted.append(applied)
        if record:
            self._record_action(DELETED, applied)
        self._save()

    def _apply(
        self, typ: str, name: str, inputs: Outputs, custom: bool, old: Applied | None,
        *, options: SeenOptions,
    ) -> tuple[Applied, str]:  # fmt: skip
        if not custom:
            return Applied(typ, name, f"{name}-component", inputs), UNCHANGED
        if typ == imports.PROVIDER:
            self._conninfo = imports.provider_conninfo(inputs)
            action = CREATED if old is None else UNCHANGED if old.outputs == inputs else UPDATED
            return Applied(typ, name, f"{name}-provider", inputs), action
        if typ in RANDOM_EQUIVALENTS:
            if old is not None:
                return old, UNCHANGED  # random values are made once
            made = {**inputs, **RANDOM_EQUIVALENTS[typ](inputs)}
            return Applied(typ, name, name, made), CREATED
        if typ in SQL_EQUIVALENTS:
            return self._sql_equivalent(typ, name, inputs, old, options)
        if typ.startswith("pulumi-python:dynamic/"):
            return self._dynamic(typ, name, inputs, old, options=options)
        raise NotImplementedError(f"the offline applier has no equivalent for {typ}")

    def _sql_equivalent(
        self, typ: str, name: str, inputs: Outputs, old: Applied | None, options: SeenOptions
    ) -> tuple[Applied, str]:
        if old is not None and old.outputs == inputs:
            return old, UNCHANGED
        assert self._conninfo, "the postgresql provider is registered before its resources"
        if options.import_id and old is None:
            return self._imported(typ, name, inputs, options), IMPORTED
        with connect(self._conninfo) as conn, conn.transaction():
            # one at a time: Postgres fails concurrent GRANTs that touch one catalog row (an
            # object's ACL, a role) with "tuple concurrently updated"
            lock_until_commit(conn, SQL_LOCK)
            for statement in SQL_EQUIVALENTS[typ](inputs):  # idempotent: safe to repeat
                conn.execute(statement)
        return Applied(typ, name, name, inputs), CREATED if old is None else UPDATED

    def _imported(self, typ: str, name: str, inputs: Outputs, options: SeenOptions) -> Applied:
        """The engine's import of a postgresql resource (:mod:`applier.imports`): the object is
        read by its id and taken into the state as it is, nothing run; one that is not there,
        or not what the program declares, fails."""
        assert self._conninfo is not None
        import_id = options.import_id
        fields = imports.differing(self._conninfo, typ, import_id, inputs, options.ignore_changes)
        if fields:
            raise ProviderError(f"{imports.MISMATCH}: [{' '.join(fields)}]")
        return Applied(typ, name, import_id, inputs)

    def _dynamic(
        self, typ: str, name: str, inputs: Outputs, old: Applied | None, *, options: SeenOptions
    ) -> tuple[Applied, str]:
        decision = decide(self.host, typ, name, inputs, old, options=options)
        blob, urn = decision.news[PROVIDER_KEY], options.urn
        if old is None:
            created_id, outs = self.host.create(urn, decision.news)
            return Applied(typ, name, created_id, outs, blob), CREATED
        if decision.op == SAME:
            return replace(old, provider=blob), UNCHANGED
        if decision.op == UPDATE:
            outs = self.host.update(urn, old.id, state_of(old), decision.news)
            return Applied(typ, name, old.id, outs, blob), UPDATED
        assert decision.op == REPLACE
        if decision.delete_first:
            self.host.delete(urn, old.id, state_of(old))
        else:  # the engine's default: the replacement first, the old one at the end
            with self._lock:
                self._pending.append(replace(old, delete=True))
        created_id, outs = self.host.create(urn, decision.news)
        return Applied(typ, name, created_id, outs, blob), REPLACED


def refreshed(host: DynamicHost, records: list[Applied]) -> list[Applied]:
    """``pulumi up --refresh``'s first step: each dynamic resource as its provider reads it now
    (``Read`` with the state's properties), several at once; a hand edit shows as a changed
    output, which the update's diff then undoes; one found gone is dropped, so the update
    creates it again. Resources without a provider here, and replaced ones waiting for their
    deletion, are kept as they are."""

    def read(old: Applied) -> Applied | None:
        if old.provider is None or old.delete:
            return old
        live_id, outs = host.read(host.urn_of(old), old.id, state_of(old))
        return replace(old, id=live_id, outputs=outs) if live_id else None

    with ThreadPoolExecutor(max_workers=REFRESH_READS) as pool:
        found = list(pool.map(read, records))
    return [record for record in found if record is not None]


#: Reads a refresh runs at once (the host answers each on a thread of its own).
REFRESH_READS = 4  # the host's own server has four threads
