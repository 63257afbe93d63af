"""Split SQL text into statements with their positions, using Postgres's own parser (pglast).

The engine runs a file statement by statement so that an error names the statement and its
line; the linter walks the parse trees. Both need the same split, and a hand-written splitter
gets dollar quotes, nested comments and ``E''`` strings wrong, so this uses libpg_query.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pglast
from pglast import ast
from pglast.parser import ParseError

from supastack.errors import SupastackError


def line_of(text: str, offset: int) -> int:
    """The 1-based line of a character offset."""
    return text.count("\n", 0, offset) + 1


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text, where it starts, and its parse tree."""

    text: str
    offset: int
    line: int
    node: ast.Node

    @property
    def summary(self) -> str:
        """The statement's first line, for messages."""
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        return first if len(first) <= 80 else first[:77] + "..."


def split(sql: str, source: str) -> list[Statement]:
    """Parse ``sql`` into statements; a syntax error names ``source`` and the line. A text is
    parsed once per process (discovery, lint, the destructive check and the engine all ask for
    the same files; pglast's trees are most of a program run's time otherwise)."""
    return list(_split(sql, source))


@functools.lru_cache(maxsize=4096)
def _split(sql: str, source: str) -> tuple[Statement, ...]:
    try:
        raws = pglast.parse_sql(sql)
    except ParseError as exc:
        message, offset = exc.args
        raise SupastackError(f"{source}:{line_of(sql, offset)}: syntax error: {message}") from None
    statements = []
    for raw in raws:
        assert raw.stmt is not None
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(sql)
        chunk = sql[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        text = chunk.strip()
        statements.append(Statement(text, start + lead, line_of(sql, start + lead), raw.stmt))
    return tuple(statements)


def expression(value: str) -> str:
    """Return ``value`` if it is exactly one SQL expression, else raise ValueError.

    Policy clauses are pasted into ``USING (...)``; parsing them first is what keeps
    ``true); DROP TABLE x; --`` from becoming two statements.
    """
    try:
        statements = pglast.parse_sql(f"SELECT ({value})")
    except ParseError as exc:
        raise ValueError(f"not a SQL expression: {exc.args[0]}") from None
    select = statements[0].stmt if len(statements) == 1 else None
    if (
        not isinstance(select, ast.SelectStmt)
        or len(select.targetList or ()) != 1
        or select.fromClause
        or select.whereClause
    ):
        raise ValueError("must be one SQL expression, not statements")
    return value
