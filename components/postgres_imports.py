"""The ``import_`` ids of the ``pulumi-postgresql`` objects a deploy takes over
(``supastack:adoptImports``, written by ``supastack adopt``): the provider's own ids, a role by
its name, a schema and an extension as ``<database>.<name>``."""

from __future__ import annotations

from typing import Literal

import pulumi

from supastack.config.settings import AdoptImports


def imported(
    kind: Literal["roles", "schemas", "extensions"], name: str, database: str,
    imports: AdoptImports,
) -> pulumi.ResourceOptions:  # fmt: skip
    """Options importing the object when adopt listed it; none otherwise (it is created)."""
    if name not in getattr(imports, kind):
        return pulumi.ResourceOptions()
    return pulumi.ResourceOptions(import_=name if kind == "roles" else f"{database}.{name}")
