"""Function secrets: project-wide values every function finds in its environment.

Values are compared in memory and never written anywhere but the API: what supastack keeps
(in Pulumi's encrypted state) is the value and the digest the API shows for it, so a secret
changed outside the stack (dashboard, CLI) shows up as drift without anyone reading a value.
Only the names a stack manages are ever upserted or deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from supastack.platform.management_api import ManagementApi


def changed(old: Mapping[str, str], new: Mapping[str, str]) -> set[str]:
    """Names that are new or whose value differs."""
    return {name for name, value in new.items() if old.get(name) != value}


def sync(api: ManagementApi, old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Upsert what changed, delete what the stack no longer declares; return the API's digests
    of the managed names (the drift baseline). A changed name whose live digest is already
    the new value's (a secret set by hand to the declared value, when a live project is
    adopted) is taken over as it is, not set again. The digest is SHA-256 of the value, as the
    local runtime shows it; Supabase does not document its algorithm, and where it differs no
    digest matches and every changed name is set, as before."""
    live = api.secret_digests()
    upserts = {name: new[name] for name in sorted(changed(old, new))
               if live.get(name) != digest(new[name])}  # fmt: skip
    api.upsert_secrets(upserts)
    api.delete_secrets(set(old) - set(new))
    digests = api.secret_digests()
    return {name: digests[name] for name in new if name in digests}


def digest(value: str) -> str:
    """The digest the Management API lists for a secret's value (SHA-256, hex)."""
    return hashlib.sha256(value.encode()).hexdigest()


def drifted(api: ManagementApi, recorded: Mapping[str, str]) -> set[str]:
    """Managed names whose digest is no longer the one recorded at deploy (or that are gone)."""
    digests = api.secret_digests()
    return {name for name, digest in recorded.items() if digests.get(name) != digest}
