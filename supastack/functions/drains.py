"""Log drains as the function secret SUPASTACK_LOG_DRAINS, read by functions/_shared/drains.ts.

Supabase's Management API has no log-drain endpoint. supastack therefore ships the drain list
(destinations, filters, batching, auth headers) as one function secret: on Supabase the shared
middleware forwards its log lines with it, on ``local`` the edge runtime forwards its own log.
Being a secret, the auth headers never show in state, previews or logs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from supastack.config.settings import LogDrainSettings

DRAINS_SECRET = "SUPASTACK_LOG_DRAINS"  # noqa: S105 (a name, not a value)


def drains_json(drains: Mapping[str, LogDrainSettings], auth: Mapping[str, str]) -> str:
    """The secret's value; ``auth`` maps each ``authSecret`` name to its value."""
    entries = []
    for name, drain in sorted(drains.items()):
        headers = {drain.auth_header: auth[drain.auth_secret]} if drain.auth_secret else {}
        entries.append(
            {
                "name": name,
                "url": drain.url,
                "headers": headers,
                "functions": drain.functions,
                "minLevel": drain.min_level,
                "batchSize": drain.batch_size,
                "flushSeconds": drain.flush_seconds,
            }
        )
    return json.dumps(entries, sort_keys=True)
