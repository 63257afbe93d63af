"""The base of supastack's typed input models and the one way their errors are worded.

Stack settings and app manifests are pydantic models with camelCase keys, no unknown keys (a
misspelt key silently falling back to a default is how prod gets local settings) and frozen
values. A validation error becomes one line per problem: ``<file>: <key path>: <message>``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


class ConfigModel(BaseModel):
    """camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def describe_errors(exc: ValidationError, source: str, prefix: str = "") -> str:
    """``<source>: <prefix><key.path>: <message>`` for each error.

    A model-level rule has no location; its message starts with the key it is about.
    """
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:
            lines.append(f"{source}: {prefix}{msg}")
            continue
        if err["type"] == "missing":
            msg = "is required"
        elif err["type"] == "extra_forbidden":
            msg = "is not a known key (misspelt?)"
        lines.append(f"{source}: {prefix}{loc}: {msg}")
    return "\n".join(lines)
