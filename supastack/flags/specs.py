"""What declares a flag (an app manifest's ``flags:``) and what sets it (a stack file's
``supastack:flags``).

A manifest says a flag exists and what it is for; it is off until a stack turns it on. A stack
sets it: ``enabled`` (off is off for everyone, allow-listed subjects too: the kill switch),
``percentage`` of subjects by bucket (``monitoring.flag_bucket``), and ``allow``: subjects
(user ids, organization ids) that are in whenever the flag is enabled.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

from supastack.config.models import ConfigModel

_FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Percentages are kept with two decimals (``numeric(5, 2)``): 0.25 % is a step of its own.
PERCENT_PLACES = Decimal("0.01")


def _flag_name(value: str) -> str:
    if not _FLAG_NAME.match(value):
        raise ValueError(f"{value!r} is not a flag name (lowercase letters, digits and _)")
    return value


FlagName = Annotated[str, AfterValidator(_flag_name)]


def _percentage(value: Decimal) -> Decimal:
    if value != value.quantize(PERCENT_PLACES):
        raise ValueError(f"{value} has more than two decimals")
    return value


Percentage = Annotated[Decimal, Field(ge=0, le=100), AfterValidator(_percentage)]


def _subject(value: str) -> str:
    if not value.strip() or len(value) > 200:
        raise ValueError(f"{value!r} is not a subject (an id of 1 to 200 characters)")
    return value


Subject = Annotated[str, AfterValidator(_subject)]


class FlagSpec(ConfigModel):
    """One entry of a manifest's ``flags:``."""

    name: FlagName
    description: Annotated[str, Field(min_length=1)]
    """What turning it on changes (shown in the preview and kept with the flag's row)."""


class FlagSettings(ConfigModel):
    """One entry of a stack file's ``supastack:flags``."""

    enabled: bool = False
    percentage: Percentage = Decimal(0)
    allow: Annotated[list[Subject], Field(max_length=1000)] = Field(default_factory=list)
