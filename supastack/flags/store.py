"""Flags as rows of ``monitoring.feature_flags``: what a stack sets, written by the FeatureFlag
resources, read back to find a hand edit (drift)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from supastack.config.manifest import AppManifest
from supastack.database.postgres import connect
from supastack.errors import SupastackError
from supastack.flags.specs import PERCENT_PLACES, FlagSettings


@dataclass(frozen=True)
class Flag:
    """A flag as one stack sets it."""

    name: str
    app: str
    description: str
    enabled: bool
    percentage: Decimal
    allow: tuple[str, ...]


def plan_flags(
    manifests: Sequence[AppManifest], settings: Mapping[str, FlagSettings], source: str
) -> dict[str, list[Flag]]:
    """Each app's flags as the stack sets them (off when it does not); a stack setting a flag
    no deployed app declares is refused, naming the stack file and key."""
    declared = {spec.name: (m, spec) for m in manifests for spec in m.flags}
    unknown = sorted(set(settings) - set(declared))
    if unknown:
        raise SupastackError(
            f"{source}: supastack:flags.{unknown[0]}: no app of this stack declares a flag "
            f"{unknown[0]!r} (declared: {', '.join(sorted(declared)) or 'none'})"
        )
    planned: dict[str, list[Flag]] = {m.app: [] for m in manifests}
    for name, (manifest, spec) in declared.items():
        chosen = settings.get(name, FlagSettings())
        planned[manifest.app].append(
            Flag(name, manifest.app, spec.description, chosen.enabled,
                 chosen.percentage.quantize(PERCENT_PLACES), tuple(chosen.allow))
        )  # fmt: skip
    return planned


def put(conninfo: str, flag: Flag) -> None:
    with connect(conninfo, subject=f"flag {flag.name!r}") as conn:
        conn.execute(
            "INSERT INTO monitoring.feature_flags AS f "
            "(name, app, description, enabled, percentage, allow) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "app = EXCLUDED.app, description = EXCLUDED.description, "
            "enabled = EXCLUDED.enabled, percentage = EXCLUDED.percentage, "
            "allow = EXCLUDED.allow, updated_at = now()",
            [flag.name, flag.app, flag.description, flag.enabled, flag.percentage,
             list(flag.allow)],
        )  # fmt: skip


def read(conninfo: str, name: str) -> Flag | None:
    with connect(conninfo, subject=f"flag {name!r}") as conn:
        row = conn.execute(
            "SELECT name, app, description, enabled, percentage, allow "
            "FROM monitoring.feature_flags WHERE name = %s",
            [name],
        ).fetchone()
    if row is None:
        return None
    name, app, description, enabled, percentage, allow = row
    return Flag(name, app, description, enabled, percentage, tuple(allow))


def delete(conninfo: str, name: str) -> None:
    """Remove the flag: ``flag_enabled`` answers off for it from then on."""
    with connect(conninfo, subject=f"flag {name!r}") as conn:
        conn.execute("DELETE FROM monitoring.feature_flags WHERE name = %s", [name])
