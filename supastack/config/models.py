"""The base of supastack's typed input models and the one way their errors are worded.

Stack settings and app manifests are pydantic models with camelCase keys, no unknown keys (a
misspelt key silently falling back to a default is how prod gets local settings) and frozen
values. A validation error becomes one line per problem: ``<file>: <key path>: <message>``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

_SECRET_NAME = re.compile(r"^(?!SUPABASE_)[A-Z][A-Z0-9_]{0,255}$")


def _secret_name(value: str) -> str:
    if not _SECRET_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a secret name (UPPER_SNAKE_CASE, not starting with SUPABASE_, "
            "which Supabase reserves)"
        )
    return value


#: A function secret's name, as the Management API accepts it.
SecretName = Annotated[str, AfterValidator(_secret_name)]


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
