"""Project settings as code: the connection pooler, SSL enforcement and network restrictions of
a Supabase project, from ``supastack:project`` in the stack file, through the Management API.

Each is applied whole and read back for drift (a change in the dashboard shows in the preview).
On the local target there is no pooler, no TLS and no network edge to restrict: the program
declares nothing there and says so. The Data API's exposed schemas are the apps' ``api:``
(``supastack.database.exposed_schemas``).

What the API cannot do is documented rather than faked: the pooler's ``max_client_conn``
follows the compute size (no endpoint sets it), and nothing resets a setting to Supabase's
default, so removing one from the stack file leaves the project as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from supastack.errors import SupastackError
from supastack.platform.management_api import ManagementApi

#: How long a network-restriction change may stay ``stored`` before it counts as not applied.
APPLY_WAIT_S = 120.0


Kind = Literal["pooler", "ssl_enforcement", "network_restrictions"]


def apply(
    api: ManagementApi,
    kind: Kind,
    wanted: dict[str, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Make the project's setting ``wanted``."""
    if kind == "pooler":
        api.update_pooler_config({k: v for k, v in wanted.items() if v is not None})
    elif kind == "ssl_enforcement":
        api.update_ssl_enforcement(bool(wanted["database"]))
    else:
        answer = api.apply_network_restrictions(wanted)
        deadline = time.monotonic() + APPLY_WAIT_S
        while answer.get("status") != "applied":
            if time.monotonic() > deadline:
                raise SupastackError(
                    f"network restrictions: still {answer.get('status')!r} after "
                    f"{APPLY_WAIT_S:.0f} s; the next deploy checks again"
                )
            sleep(2.0)
            answer = api.network_restrictions()


def read(api: ManagementApi, kind: Kind, wanted: dict[str, Any]) -> dict[str, Any]:
    """The project's setting now, in the shape of ``wanted`` (drift is any difference)."""
    if kind == "pooler":
        live = api.pooler_config()
        return {
            "pool_mode": live.get("pool_mode"),
            "default_pool_size": (
                live.get("default_pool_size") if wanted["default_pool_size"] is not None else None
            ),
        }
    if kind == "ssl_enforcement":
        return {"database": api.ssl_enforcement()}
    config = api.network_restrictions().get("config") or {}
    return {
        "dbAllowedCidrs": sorted(config.get("dbAllowedCidrs") or []),
        "dbAllowedCidrsV6": sorted(config.get("dbAllowedCidrsV6") or []),
    }
