"""The scaffold every supastack dynamic resource stands on.

A resource is declared with one typed value, its ``XProps`` (``XResource(name, props, opts)``);
its provider reads the same class back from the dicts Pulumi hands it (once per call) and
implements four typed steps: :meth:`~TypedProvider.identify`, :meth:`~TypedProvider.put`,
:meth:`~TypedProvider.remove` and :meth:`~TypedProvider.observe`. Pulumi's create, update,
delete, read and diff are written here once. Which properties are secret is declared on the props
class (``supastack.resource_props.secret``); the resource's ``additional_secret_outputs`` and the
policy pack's list are derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from supastack.resource_props import ResourceProps

P = TypeVar("P", bound=ResourceProps)


class TypedProvider(ResourceProvider, Generic[P]):
    """A provider whose properties are one :class:`ResourceProps` class. Its diff compares that
    class's inputs; those in ``replace_on`` force a replacement (the old object is deleted
    first: two objects of one name cannot exist at once)."""

    props_type: ClassVar[type[ResourceProps]]
    replace_on: ClassVar[tuple[str, ...]] = ()

    def typed(self, raw: Mapping[str, Any]) -> P:
        return self.props_type.of(raw)  # type: ignore[return-value]

    # -- the typed steps a provider implements ---------------------------------------------

    def identify(self, props: P) -> str:
        """The object's id (its name where it has one)."""
        raise NotImplementedError

    def put(self, props: P, before: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """Make the object as ``props`` declare it; ``before`` is the state an update starts
        from (``None`` on create). Returns the outputs it adds to the inputs."""
        raise NotImplementedError

    def remove(self, props: P) -> None:
        """Delete the object (or leave it, where the provider says deleting is never right)."""
        raise NotImplementedError

    def observe(self, props: P, recorded: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """What a refresh finds: the properties whose live values differ from ``recorded``
        (``{}`` for none), or ``None`` when the object is gone."""
        return {}

    # -- Pulumi's protocol, once ---------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in self.props_type.diffed() if olds.get(key) != news.get(key)]
        return DiffResult(
            changes=bool(changed),
            replaces=[key for key in changed if key in self.replace_on],
            delete_before_replace=True,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        typed = self.typed(props)
        return CreateResult(self.identify(typed), {**props, **self.put(typed, None)})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, **self.put(self.typed(news), olds)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.remove(self.typed(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = self.observe(self.typed(props), props)
        if live is None:
            return ReadResult("", {})  # gone: a refresh drops it
        return ReadResult(id_, {**props, **live})


class TypedResource(Resource, Generic[P]):
    """A dynamic resource declared with its props class; ``outputs`` are the properties only
    its provider sets (declared as unknown until then)."""

    provider_type: ClassVar[type[TypedProvider[Any]]]
    outputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, props: P, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(props, self.provider_type.props_type):
            raise TypeError(
                f"{type(self).__name__} {name!r}: expected "
                f"{self.provider_type.props_type.__name__}, got {type(props).__name__}"
            )
        secret_outputs = pulumi.ResourceOptions(
            additional_secret_outputs=list(type(props).secret_fields())
        )
        super().__init__(
            self.provider_type(),
            name,
            {**props.inputs(), **dict.fromkeys(self.outputs)},
            pulumi.ResourceOptions.merge(opts, secret_outputs),
        )
