"""The resource options the engine honours, as the program's ``RegisterResource`` requests carry
them, and what the engine does with each: ``protect`` refuses a delete or a replacement,
``retain_on_delete`` drops a resource from the state without deleting it, ``ignore_changes``
keeps the state's value of a listed input, ``replace_on_changes`` forces a replacement when a
listed input changes, ``delete_before_replace`` deletes before creating the replacement,
``aliases`` match a resource to the state of its old name, and ``import_`` adopts an existing
object (``Read`` with the given id: for a dynamic resource the engine sends no ``__provider``,
so the dynamic host fails, pulumi/pulumi#16175)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from applier.equivalents import SECRET_BY_SCHEMA
from applier.errors import is_secret
from applier.records import Applied

Outputs = dict[str, Any]
Key = tuple[str, str]


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
    """(type, name) of each alias: the state's resources this one may have been."""
    import_id: str = ""

    @classmethod
    def of_request(cls, request: Any, urn: str) -> SeenOptions:
        return cls(
            urn=urn,
            protect=bool(request.protect),
            secret_outputs=tuple(request.additionalSecretOutputs),
            retain_on_delete=bool(request.retainOnDelete),
            ignore_changes=tuple(request.ignoreChanges),
            replace_on_changes=tuple(request.replaceOnChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
            aliases=tuple(_alias_key(alias, request) for alias in request.aliases),
            import_id=request.importId,
        )


#: The options seen for each resource, by (type, name).
ResourceOptionsSeen = dict[Key, SeenOptions]
NONE = SeenOptions()


def _alias_key(alias: Any, request: Any) -> Key:
    """The (type, name) an alias names: a full URN's last two parts (the type without the
    parents' types before ``$``), or a spec's, its blanks the resource's own."""
    if alias.urn:
        qualified, name = alias.urn.split("::")[-2:]
        return qualified.rsplit("$", 1)[-1], name
    return alias.spec.type or request.type, alias.spec.name or request.name


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
    previous: Mapping[Key, Applied], key: Key, options: SeenOptions, aliased: set[Key]
) -> Applied | None:
    """The state a registration continues: its own (type, name)'s, else its first alias found
    there (added to ``aliased``, so it is not deleted as gone)."""
    if key in previous:
        return previous[key]
    for alias in options.aliases:
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
