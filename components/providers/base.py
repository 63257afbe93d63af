"""What every supastack dynamic provider shares: typed properties and a diff over their inputs."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

import pulumi
from pulumi.dynamic import DiffResult, ReadResult, ResourceProvider

from supastack.resource_props import ResourceProps

#: Properties that hold secrets (connection strings, tokens, secret values and their digests);
#: every dynamic resource keeps them secret in its outputs too.

P = TypeVar("P", bound=ResourceProps)


def with_secret_outputs(
    opts: pulumi.ResourceOptions | None, props_type: type[ResourceProps]
) -> pulumi.ResourceOptions:
    """``opts`` plus ``additional_secret_outputs``: the properties ``props_type`` declares
    secret (``supastack.resource_props.secret``), and only those."""
    secret_outputs = list(props_type.secret_fields())
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(additional_secret_outputs=secret_outputs)
    )


class DeclarativeProvider(ResourceProvider, Generic[P]):
    """A provider whose properties are one :mod:`supastack.resource_props` class: it reads them
    typed (:meth:`typed`, once per call) and diffs by comparing that class's inputs; some of
    them force a replacement."""

    props_type: ClassVar[type[ResourceProps]]
    replace_on: ClassVar[tuple[str, ...]] = ()

    def typed(self, raw: dict[str, Any]) -> P:
        return self.props_type.of(raw)  # type: ignore[return-value]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in self.props_type.diffed() if olds.get(key) != news.get(key)]
        return DiffResult(
            changes=bool(changed),
            replaces=[key for key in changed if key in self.replace_on],
            delete_before_replace=True,
        )


def gone() -> ReadResult:
    """What ``read`` answers for an object that no longer exists (refresh drops it)."""
    return ReadResult("", {})
