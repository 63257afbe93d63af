"""The ordered grant and default-privilege steps an app manifest asks for.

A role in ``revokeDefaultGrants`` ends up with exactly the privileges the manifest grants it:
for each object kind the manifest grants it nothing on (all objects), Supabase's defaults are
revoked, on existing objects and on objects created later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from supastack.config.manifest import AppManifest

OBJECT_KINDS = ("table", "sequence", "function")


@dataclass(frozen=True)
class PrivilegeStep:
    """One GRANT (``existing`` objects) or ALTER DEFAULT PRIVILEGES (``future`` objects)."""

    label: str
    scope: Literal["existing", "future"]
    role: str
    object_type: str
    privileges: list[str]
    objects: list[str] = field(default_factory=list)
    owner: str = "postgres"


def privilege_steps(manifest: AppManifest) -> list[PrivilegeStep]:
    """Every step, in the order they are applied (one at a time)."""
    steps = [
        PrivilegeStep(
            f"grant-{i}", "existing", g.role, g.object_type, list(g.privileges), g.objects
        )
        for i, g in enumerate(manifest.grants)
    ]
    steps += [
        PrivilegeStep(
            f"default-{i}", "future", d.role, d.object_type, list(d.privileges), owner=d.owner
        )
        for i, d in enumerate(manifest.default_privileges)
    ]
    for role in manifest.revoke_default_grants:
        granted = {g.object_type for g in manifest.grants if g.role == role and not g.objects}
        defaults = {d.object_type for d in manifest.default_privileges if d.role == role}
        for kind in OBJECT_KINDS:
            if kind not in granted:
                steps.append(PrivilegeStep(f"revoke-{role}-{kind}", "existing", role, kind, []))
            if kind not in defaults:
                steps.append(
                    PrivilegeStep(f"revoke-default-{role}-{kind}", "future", role, kind, [])
                )
    return steps
