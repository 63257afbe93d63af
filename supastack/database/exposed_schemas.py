"""The schemas the Data API (PostgREST) serves, as the stack's apps declare them (``api:``).

On the supabase target they are merged into the project's ``db_schema`` through the Management
API: schemas the stack did not add (exposed in the dashboard, Supabase's own ``public`` and
``graphql_public``) are left where they are, schemas it added and no apps declare any more are
taken out, and a schema of ours missing from the live list is drift. Locally there
is no PostgREST; the stack outputs record them.
"""

from __future__ import annotations

from collections.abc import Sequence

from supastack.platform.management_api import ManagementApi


def _split(db_schema: str) -> list[str]:
    return [s.strip() for s in db_schema.split(",") if s.strip()]


def merged(
    live: str, ours: Sequence[str], added_before: Sequence[str] = ()
) -> tuple[str, list[str]]:
    """The ``db_schema`` to set, and which of ``ours`` the stack has added to it.

    Only schemas the stack added itself are ever taken out (when no app declares them any
    more): one that was exposed before (``public`` on every new project, or one exposed in the
    dashboard) stays exposed whatever the stack declares.
    """
    dropped = {s for s in added_before if s not in ours}
    kept = [s for s in _split(live) if s not in dropped]
    newly = [s for s in ours if s not in kept]
    added = [s for s in added_before if s in ours] + newly
    return ",".join([*kept, *newly]), added


def apply(
    api: ManagementApi, ours: Sequence[str], added_before: Sequence[str] = ()
) -> tuple[str, list[str]]:
    """Merge ``ours`` into the live config: the ``db_schema`` in force, and what we added."""
    live = str(api.postgrest_config().get("db_schema", ""))
    wanted, added = merged(live, ours, added_before)
    if wanted != live:
        api.update_postgrest_config({"db_schema": wanted})
    return wanted, added


def missing(api: ManagementApi, ours: Sequence[str]) -> list[str]:
    """Which of ``ours`` the live config no longer serves (drift)."""
    live = set(_split(str(api.postgrest_config().get("db_schema", ""))))
    return [s for s in ours if s not in live]
