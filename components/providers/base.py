"""What every supastack dynamic provider shares: a diff over declared input keys."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import DiffResult, ReadResult, ResourceProvider

from supastack.management_api import ManagementApi

#: Properties that hold secrets (connection strings, tokens, secret values and their digests);
#: every dynamic resource keeps them secret in its outputs too.
SECRET_OUTPUTS = ["conninfo", "token", "value", "values", "digests"]


def with_secret_outputs(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """``opts`` plus ``additional_secret_outputs`` for the secret properties."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS)
    )


class DeclarativeProvider(ResourceProvider):
    """Diff by comparing the inputs a subclass declares; some of them force a replacement."""

    inputs: ClassVar[tuple[str, ...]]
    replace_on: ClassVar[tuple[str, ...]] = ()

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in self.inputs if olds.get(key) != news.get(key)]
        return DiffResult(
            changes=bool(changed),
            replaces=[key for key in changed if key in self.replace_on],
            delete_before_replace=True,
        )


def gone() -> ReadResult:
    """What ``read`` answers for an object that no longer exists (refresh drops it)."""
    return ReadResult("", {})


def api_from(props: dict[str, Any]) -> ManagementApi:
    """The Management API client a resource's ``api`` ({url, project_ref}) and ``token`` name."""
    return ManagementApi(props["api"]["url"], props["token"], props["api"]["project_ref"])
