"""Lint migrations before they run: squawk's rules plus three checks of supastack's own.

- squawk (PyPI ``squawk-cli``) runs with ``--assume-in-transaction``, as the engine wraps each
  file in a transaction (``-- supastack:no-transaction`` files are linted without it). Its
  ``require-concurrent-index-creation`` (a plain ``CREATE INDEX`` on a table an earlier file
  created, which blocks writes for the whole build) is reported pointing to the
  ``-- supastack:no-transaction`` header. Rules the engine makes moot are off:
  ``require-lock-timeout`` and ``require-statement-timeout`` (the engine sets both per file)
  and ``prefer-robust-stmts`` (a failed file rolls back whole, and a failed concurrent build's
  INVALID index is dropped before the rerun, so no file needs ``IF NOT EXISTS``). squawk's drop
  and type-change rules are off because the ``destructive`` check below reports them once.
- ``rls-not-enabled``: a table created in the app's schema (or ``public``) without
  ``ENABLE ROW LEVEL SECURITY`` anywhere in the app's migrations; Supabase exposes such a table
  to every API key.
- ``security-definer-search-path``: a ``SECURITY DEFINER`` function without ``SET search_path``
  can be hijacked by objects the caller creates on its search path.
- ``destructive``: DROP TABLE/COLUMN/SCHEMA, TRUNCATE and column type changes lose data; a
  stack with backups enabled dumps the database before such a file (or down file) runs. A loss
  that is meant is acknowledged on the line before, ``-- supastack:destructive <why>``: then it
  is reported as info with the reason (the backup is still taken).
"""

from __future__ import annotations

import json
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from supastack.database import sqltext
from supastack.errors import SupastackError
from supastack.migrations.files import NO_TRANSACTION, MigrationFile

SQUAWK_EXCLUDED = (
    "require-lock-timeout",
    "require-statement-timeout",
    "prefer-robust-stmts",
    "ban-drop-table",
    "ban-drop-column",
    "changing-column-type",
)
SQUAWK_PG_VERSION = "15.0"
_PLAIN_INDEX = "require-concurrent-index-creation"
_PLAIN_INDEX_MESSAGE = (
    "CREATE INDEX without CONCURRENTLY on a table an earlier migration created blocks writes to "
    "it for the whole build; use CREATE INDEX CONCURRENTLY, alone in a file whose first line is "
    f"{NO_TRANSACTION}"
)


@dataclass(frozen=True, order=True)
class Finding:
    """One lint finding, located in a file."""

    source: str
    line: int
    rule: str
    message: str
    info: bool = False
    """Worth knowing, not a problem: a down file dropping what its own up file created."""

    def __str__(self) -> str:
        level = " (info)" if self.info else ""
        return f"{self.source}:{self.line}: {self.rule}{level}: {self.message}"


def _name(relation: ast.RangeVar | None) -> tuple[str, str]:
    """(schema, table) of a relation; unqualified names land in ``public`` on Supabase."""
    assert relation is not None and relation.relname is not None
    return (relation.schemaname or "public", relation.relname)


@dataclass(frozen=True)
class CreatedTable:
    """A table a migration file creates (not a partition, not a temporary table)."""

    name: tuple[str, str]
    """(schema, table); unqualified names land in ``public`` on Supabase."""
    source: str
    line: int

    def exposed_to(self, schemas: set[str]) -> bool:
        return self.name[0] in schemas


def created_tables(file: MigrationFile) -> list[CreatedTable]:
    """The tables ``file`` (its up file) creates."""
    return [
        CreatedTable(_name(statement.node.relation), file.source, statement.line)
        for statement in sqltext.split(file.sql, file.source)
        if isinstance(statement.node, ast.CreateStmt)
        and statement.node.partbound is None
        and getattr(statement.node.relation, "relpersistence", "p") != "t"
    ]


def _destructive(node: ast.Node) -> str | None:
    """What a statement destroys, or None."""
    if isinstance(node, ast.DropStmt) and node.removeType in (
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_SCHEMA,
    ):
        kind = "table" if node.removeType == ObjectType.OBJECT_TABLE else "schema"
        names = ", ".join(
            ".".join(n.sval for n in obj) if isinstance(obj, tuple) else obj.sval
            for obj in node.objects or ()
        )
        return f"drops {kind} {names}"
    if isinstance(node, ast.TruncateStmt):
        return "truncates " + ", ".join(".".join(_name(r)) for r in node.relations or ())
    if isinstance(node, ast.AlterTableStmt):
        table = ".".join(_name(node.relation))
        for cmd in node.cmds or ():
            if cmd.subtype == AlterTableType.AT_DropColumn:
                return f"drops column {table}.{cmd.name}"
            if cmd.subtype == AlterTableType.AT_AlterColumnType:
                return f"changes the type of column {table}.{cmd.name} (may lose data)"
    return None


def _dropped(node: ast.Node) -> set[str]:
    """The tables, schemas and columns a statement drops (``table:s.t``, ``schema:s``,
    ``column:s.t.c``); empty for anything else."""
    if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_TABLE:
        names = [[part.sval for part in obj] for obj in node.objects or ()]
        return {f"table:{n[-2] if len(n) > 1 else 'public'}.{n[-1]}" for n in names}
    if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_SCHEMA:
        return {f"schema:{obj.sval}" for obj in node.objects or ()}
    if isinstance(node, ast.AlterTableStmt):
        table = ".".join(_name(node.relation))
        return {
            f"column:{table}.{cmd.name}"
            for cmd in node.cmds or ()
            if cmd.subtype == AlterTableType.AT_DropColumn
        }
    return set()


def _created(file: MigrationFile) -> set[str]:
    """What ``file``'s up file creates, in :func:`_dropped`'s terms."""
    created = {"table:" + ".".join(table.name) for table in created_tables(file)}
    for statement in sqltext.split(file.sql, file.source):
        node = statement.node
        if isinstance(node, ast.CreateSchemaStmt) and node.schemaname:
            created.add(f"schema:{node.schemaname}")
        if isinstance(node, ast.AlterTableStmt):
            table = ".".join(_name(node.relation))
            created |= {
                f"column:{table}.{cmd.def_.colname}"
                for cmd in node.cmds or ()
                if cmd.subtype == AlterTableType.AT_AddColumn
                and isinstance(cmd.def_, ast.ColumnDef)
            }
    return created


def _definer_without_search_path(node: ast.Node) -> bool:
    if not isinstance(node, ast.CreateFunctionStmt):
        return False
    options = {o.defname: o.arg for o in node.options or ()}
    definer = isinstance(options.get("security"), ast.Boolean) and options["security"].boolval
    sets = [o.arg for o in node.options or () if o.defname == "set"]
    pinned = any(isinstance(s, ast.VariableSetStmt) and s.name == "search_path" for s in sets)
    return bool(definer) and not pinned


def destructive(sql: str, source: str) -> bool:
    """Whether running ``sql`` destroys data (decides whether a backup is taken first)."""
    return any(_destructive(s.node) for s in sqltext.split(sql, source))


def _texts(file: MigrationFile) -> Iterable[tuple[str, str]]:
    yield file.source, file.sql
    if file.down_sql is not None:
        yield file.down_source, file.down_sql


def _rls_findings(
    files: Sequence[MigrationFile], schema: str, context: Sequence[MigrationFile]
) -> list[Finding]:
    """Tables ``files`` create in an exposed schema that no file of the app puts under RLS."""
    exposed = {schema, "public"}
    linted = {f.source for f in files}
    created: dict[tuple[str, str], tuple[str, int]] = {}
    enabled: set[tuple[str, str]] = set()
    for file in [*files, *(f for f in context if f.source not in linted)]:
        for statement in sqltext.split(file.sql, file.source):
            node = statement.node
            if isinstance(node, ast.AlterTableStmt) and any(
                cmd.subtype == AlterTableType.AT_EnableRowSecurity for cmd in node.cmds or ()
            ):
                enabled.add(_name(node.relation))
        if file.source in linted:
            created |= {
                t.name: (file.source, t.line) for t in created_tables(file) if t.exposed_to(exposed)
            }
    return [
        Finding(
            source,
            line,
            "rls-not-enabled",
            f"table {'.'.join(table)} is created without ALTER TABLE ... ENABLE ROW LEVEL "
            "SECURITY in this app's migrations; every API key could read it",
        )
        for table, (source, line) in created.items()
        if table not in enabled
    ]


#: Marks, on the line before a statement, a loss of data that is meant (with why).
ACKNOWLEDGE = "-- supastack:destructive "


def _acknowledged(lines: Sequence[str], line: int) -> str | None:
    """Why the statement starting on ``line`` (1-based) destroys data, if one of the comment
    lines just before it says so."""
    for above in reversed(lines[: line - 1]):
        if not above.lstrip().startswith("--"):
            return None
        if above.lstrip().startswith(ACKNOWLEDGE):
            return above.lstrip().removeprefix(ACKNOWLEDGE).strip() or None
    return None


def _statement_findings(file: MigrationFile) -> Iterable[Finding]:
    """Destructive statements and unpinned SECURITY DEFINER functions, in the up and down file.

    A down file dropping only what its own up file created is what a down file is for: that is
    reported as info (a backup is still taken before it runs, on stacks that take them).
    """
    created = _created(file) if file.down_sql is not None else set()
    for source, text in _texts(file):
        undoing = source == file.down_source
        lines = text.splitlines()
        for statement in sqltext.split(text, source):
            what = _destructive(statement.node)
            if what:
                dropped = _dropped(statement.node)
                expected = undoing and bool(dropped) and dropped <= created
                why = _acknowledged(lines, statement.line)
                message = (
                    f"{what} (created by its up file)" if expected
                    else f"{what} (acknowledged: {why})" if why else what
                )  # fmt: skip
                yield Finding(source, statement.line, "destructive", message,
                              info=expected or bool(why))  # fmt: skip
            if _definer_without_search_path(statement.node):
                yield Finding(
                    source,
                    statement.line,
                    "security-definer-search-path",
                    "SECURITY DEFINER function without SET search_path; pin it "
                    "(e.g. SET search_path = '') so callers cannot hijack it",
                )


def own_findings(
    files: Sequence[MigrationFile], schema: str, context: Sequence[MigrationFile] = ()
) -> list[Finding]:
    """supastack's checks; ``context`` adds the app's other files (where RLS may be enabled)."""
    return _rls_findings(files, schema, context) + [
        finding for file in files for finding in _statement_findings(file)
    ]


def squawk_findings(files: Sequence[MigrationFile]) -> list[Finding]:
    """squawk's findings for the up files (one squawk process per transaction mode)."""
    return [
        finding
        for in_transaction in (True, False)
        for finding in _squawk(
            [f for f in files if f.transactional == in_transaction], in_transaction
        )
    ]


def _squawk(files: Sequence[MigrationFile], in_transaction: bool) -> list[Finding]:
    if not files:
        return []
    binary = Path(sysconfig.get_path("scripts")) / "squawk"
    with tempfile.TemporaryDirectory(prefix="supastack-lint-") as tmp:
        names = {}
        for index, file in enumerate(files):
            path = Path(tmp) / f"{index:05d}.sql"
            path.write_text(file.sql)
            names[path.name] = file.source
        result = subprocess.run(
            [
                str(binary),
                *(["--assume-in-transaction"] if in_transaction else []),
                "--reporter=json",
                f"--pg-version={SQUAWK_PG_VERSION}",
                f"--exclude={','.join(SQUAWK_EXCLUDED)}",
                *sorted(names),
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode not in (0, 1):
        raise SupastackError(f"squawk failed (exit {result.returncode}): {result.stderr.strip()}")
    return [
        Finding(
            names[Path(item["file"]).name],
            item["line"] + 1,
            item["rule_name"],
            _PLAIN_INDEX_MESSAGE if item["rule_name"] == _PLAIN_INDEX else item["message"],
        )
        for item in json.loads(result.stdout or "[]")
    ]


def lint(
    files: Sequence[MigrationFile], schema: str, context: Sequence[MigrationFile] = ()
) -> list[Finding]:
    """All findings for ``files``, sorted by file and line."""
    return sorted([*own_findings(files, schema, context), *squawk_findings(files)])
