"""The ``verify:`` section of an app manifest, as models (what a check or a probe declares; the
runner is :mod:`supastack.delivery.verify`). ``{today}`` and ``{today+N}`` in a probe's path
are dates counted from the stack's today."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from supastack.config.models import ConfigModel
from supastack.database import sqltext

_TODAY = re.compile(r"\{today(?:\+(\d+))?\}")


class SqlExpect(ConfigModel):
    """Exactly one of: the rows, their count, a minimum for the single value, no rows, or a
    refusal (the role may not run the query: SQLSTATE 42501)."""

    rows: list[list[Any]] | None = None
    count: int | None = Field(default=None, ge=0)
    min: float | None = None
    empty: bool | None = None
    denied: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        kinds = ("rows", "count", "min", "empty", "denied")
        if len([k for k in kinds if getattr(self, k) is not None]) != 1:
            raise ValueError("give exactly one of rows, count, min, empty, denied")
        return self

    def failure(self, rows: list[tuple[Any, ...]]) -> str | None:
        """Why ``rows`` do not meet the expectation, or None."""
        if self.denied:
            return f"the query ran ({len(rows)} rows); expected it to be refused"
        if self.rows is not None:
            got = [list(row) for row in rows]
            return None if got == self.rows else f"got {json.dumps(got, default=str)}"
        if self.count is not None:
            return None if len(rows) == self.count else f"got {len(rows)} rows"
        if self.empty:
            return None if not rows else f"got {len(rows)} rows"
        if len(rows) != 1 or len(rows[0]) != 1:
            return f"min needs one value, got {len(rows)} rows"
        value = rows[0][0]
        return None if value is not None and float(value) >= (self.min or 0) else f"got {value}"


class SqlCheck(ConfigModel):
    name: str = Field(min_length=1, max_length=120)
    query: str
    role: Literal["postgres", "service_role", "authenticated", "anon"] = "postgres"
    expect: SqlExpect

    @model_validator(mode="after")
    def _one_select(self) -> Self:
        statements = sqltext.split(self.query, f"verify {self.name!r}")
        if len(statements) != 1 or type(statements[0].node).__name__ != "SelectStmt":
            raise ValueError("query: must be one SELECT")
        return self


class HttpExpect(ConfigModel):
    status: int = Field(ge=100, le=599)
    keys: list[str] = Field(default_factory=list)
    """Top-level keys the JSON answer must have."""


class HttpProbe(ConfigModel):
    name: str = Field(min_length=1, max_length=120)
    function: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str = ""
    """Appended to the function's URL (e.g. ``?q=1`` or ``/sub/path``); ``{today+N}`` is the
    date N days from today."""

    def resolved_path(self, today: dt.date) -> str:
        return _TODAY.sub(
            lambda m: (today + dt.timedelta(days=int(m[1] or 0))).isoformat(), self.path
        )

    caller: Literal["none", "anon", "user", "service", "job"] = "none"
    headers: dict[str, str] = Field(default_factory=dict)
    """Headers the request carries besides the caller's (e.g. ``Idempotency-Key``)."""
    body: Any = None
    expect: HttpExpect


class VerifySpec(ConfigModel):
    sql: list[SqlCheck] = Field(default_factory=list)
    http: list[HttpProbe] = Field(default_factory=list)
