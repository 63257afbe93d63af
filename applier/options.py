"""The resource options the engine honours, as the program's ``RegisterResource`` requests carry
them, and what the engine does with each: ``protect`` refuses a delete or a replacement,
``retain_on_delete`` drops a resource from the state without deleting it, ``ignore_changes``
keeps the state's value of a listed input, ``replace_on_changes`` forces a replacement when a
listed input changes, ``delete_before_replace`` deletes before creating the replacement,
``aliases`` match a resource to the state of its old URN, and ``import_`` adopts an existing
object (``Read`` with the given id: for a dynamic resource the engine sends no ``__provider``,
so the dynamic host fails, pulumi/pulumi#16175).

Resources are keyed by URN, as the engine keys its state: ``urn:pulumi:<stack>::<project>::
<qualified type>::<name>``, the qualified type being the parent's qualified type, ``$``, and the
resource's type (the stack itself is left out). A resource moved to a parent of another type has
a new URN: the engine creates it and deletes the old one unless an alias names the old parent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pulumi

from applier.equivalents import SECRET_BY_SCHEMA
from applier.errors import is_secret
from applier.records import Applied, unkeyed

Outputs = dict[str, Any]
Key = str
"""A resource's URN (a record written before URNs were recorded: ``<type>::<name>``)."""
ROOT_STACK = "pulumi:pulumi:Stack"


def make_urn(parent: str, typ: str, name: str, stack: str = "", project: str = "") -> str:
    """The URN the engine gives a resource of ``typ`` and ``name`` under ``parent`` (a URN or
    ``""``): the parent's qualified type, unless it is the stack, before ``$`` and the type."""
    if parent:
        parent_type = urn_parts(parent)[0]
        if parent_type != ROOT_STACK:
            typ = f"{parent_type}${typ}"
    stack, project = stack or pulumi.get_stack(), project or pulumi.get_project()
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def urn_parts(urn: str) -> tuple[str, str]:
    """(qualified type, name) of a URN (a name may hold ``::``)."""
    _, _, qualified, name = urn.split("::", 3)
    return qualified, name


@dataclass(frozen=True)
class SeenOptions:
    """One resource's options, from its registration request."""

    urn: str = ""
    protect: bool = False
    secret_outputs: tuple[str, ...] = ()
    retain_on_delete: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    aliases: tuple[Key, ...] = field(default=())
    """The URN of each alias: the state's resources this one may have been."""
    import_id: str = ""

    @classmethod
    def of_request(
        cls, request: Any, urn: str, parent_aliases: tuple[Key, ...] = ()
    ) -> SeenOptions:
        """The options of a request; ``parent_aliases`` are its parent's alias URNs, each of
        which makes an alias of this resource too (the engine's inherited aliases)."""
        return cls(
            urn=urn,
            protect=bool(request.protect),
            secret_outputs=tuple(request.additionalSecretOutputs),
            retain_on_delete=bool(request.retainOnDelete),
            ignore_changes=tuple(request.ignoreChanges),
            replace_on_changes=tuple(request.replaceOnChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
            aliases=_alias_urns(request, parent_aliases),
            import_id=request.importId,
        )


#: The options seen for each resource, by URN.
ResourceOptionsSeen = dict[Key, SeenOptions]
NONE = SeenOptions()

_registering = threading.local()


@contextmanager
def registering(options: SeenOptions) -> Iterator[None]:
    """The options of the resource this thread registers, for the mocks' ``new_resource``
    (whose arguments carry its type and name, not its parent or URN)."""
    _registering.options = options
    try:
        yield
    finally:
        _registering.options = None


def being_registered(typ: str, name: str) -> SeenOptions:
    """The options of the resource this thread registers (a parentless URN's when the mocks run
    without the recording monitor)."""
    seen: SeenOptions | None = getattr(_registering, "options", None)
    return seen if seen is not None else SeenOptions(urn=make_urn("", typ, name))


def _alias_urns(request: Any, parent_aliases: tuple[Key, ...]) -> tuple[Key, ...]:
    """The URN each alias names: a full URN as given, a spec's with its blanks the resource's
    own (its parent the request's unless the spec names another or none); then the resource
    under each of its parent's old URNs."""
    found: list[Key] = []
    variants = [(request.type, request.name)]
    for alias in request.aliases:
        if alias.urn:
            found.append(alias.urn)
            continue
        spec = alias.spec
        typ, name = spec.type or request.type, spec.name or request.name
        parent = "" if spec.noParent else spec.parentUrn or request.parent
        found.append(make_urn(parent, typ, name, spec.stack, spec.project))
        if not spec.parentUrn and not spec.noParent:
            variants.append((typ, name))
    found += [make_urn(old, typ, name) for old in parent_aliases for typ, name in variants]
    return tuple(dict.fromkeys(found))


def with_ignored(inputs: Outputs, olds: Mapping[str, Any], ignored: tuple[str, ...]) -> Outputs:
    """``inputs`` with each ignored top-level input set to the state's value (as the engine does
    before ``Check``); an input the state does not have keeps the program's."""
    return {k: olds[k] if k in ignored and k in olds else v for k, v in inputs.items()}


def forced_replacements(changed: tuple[str, ...], replace_on: tuple[str, ...]) -> set[str]:
    """The changed inputs ``replace_on_changes`` turns into replacements (``*``: any)."""
    return set(changed) if "*" in replace_on else set(changed) & set(replace_on)


class ProtectedError(RuntimeError):
    """The engine's refusal to delete or replace a protected resource."""

    def __init__(self, op: str, urn: str) -> None:
        remedy = (
            "remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`"
        )
        if op == "delete":
            remedy = f"either {remedy} or use the command: `pulumi state unprotect '{urn}'`"
        super().__init__(
            f'unable to {op} resource "{urn}" as it is currently marked for protection. '
            f"To unprotect the resource, {remedy}"
        )


def matching_state(
    previous: Mapping[Key, Applied], options: SeenOptions, aliased: set[Key]
) -> Applied | None:
    """The state a registration continues: its own URN's, else its first alias found there,
    else a record written before URNs were (by its type and name, once: see
    :attr:`Applied.key`); one found other than by its URN is added to ``aliased``, so it is not
    deleted as gone."""
    if options.urn in previous:
        return previous[options.urn]
    qualified, name = urn_parts(options.urn)
    for alias in (*options.aliases, unkeyed(qualified.rsplit("$", 1)[-1], name)):
        if alias in previous:
            aliased.add(alias)
            return previous[alias]
    return None


def secret_outputs(args: Any, outputs: Mapping[str, Any], options: SeenOptions) -> tuple[str, ...]:
    """The outputs the engine would keep secret: an input the program passed as a secret, one
    named in ``additional_secret_outputs``, or one secret by the provider's schema."""
    secret_inputs = [k for k, v in dict(args.inputs).items() if is_secret(v)]
    by_schema = SECRET_BY_SCHEMA.get(args.typ, ())
    chosen = {*options.secret_outputs, *secret_inputs, *by_schema}
    return tuple(sorted(k for k in chosen if k in outputs))
