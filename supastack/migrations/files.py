"""Find migration files on disk: ``migrations/<app>/<version>_<name>.sql`` and down files.

The naming follows the Supabase CLI (``<version>_<name>.sql``, version digits), plus an
optional ``<version>_<name>.down.sql`` holding the statements that undo it. Anything that
looks like a migration but is not one is an error naming the file: a file silently skipped
is a migration silently never applied.

A file whose first line is ``-- supastack:no-transaction`` runs outside a transaction, for the
statements Postgres refuses inside one (``CREATE INDEX CONCURRENTLY`` and the like). Such a
file holds exactly one statement: with two, a failure of the second would leave the first
applied and the file unrecorded, which is what one transaction per file exists to prevent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pglast import ast

from supastack.database import sqltext
from supastack.errors import SupastackError

#: The first line that makes a file (up or down) run outside a transaction.
NO_TRANSACTION = "-- supastack:no-transaction"

_NAME = re.compile(r"^(?P<version>[0-9]+)_(?P<name>[a-z0-9][a-z0-9_]*)(?P<down>\.down)?\.sql$")


@dataclass(frozen=True)
class MigrationFile:
    """One migration: its identity, its SQL and (optionally) the SQL that undoes it."""

    app: str
    version: str
    name: str
    source: str
    """The path shown in messages, e.g. ``migrations/shop/20240101000000_orders.sql``."""
    sql: str = field(repr=False)
    down_sql: str | None = field(default=None, repr=False)

    @property
    def checksum(self) -> str:
        """sha256 of the file's text: an applied migration whose checksum changes was edited."""
        return checksum(self.sql)

    def statement_texts(self) -> list[str]:
        """The up file's statements, as the history records them."""
        return [s.text for s in sqltext.split(self.sql, self.source)]

    @property
    def transactional(self) -> bool:
        """Whether the up file runs in a transaction (no ``-- supastack:no-transaction``)."""
        return not no_transaction(self.sql)

    @property
    def down_source(self) -> str:
        return self.source.removesuffix(".sql") + ".down.sql"

    @property
    def order(self) -> int:
        return int(self.version)


def checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def no_transaction(text: str) -> bool:
    """Whether ``text`` starts with the ``-- supastack:no-transaction`` line."""
    return text.split("\n", 1)[0].rstrip() == NO_TRANSACTION


def _outside_transaction(node: ast.Node) -> str | None:
    """What about a statement Postgres refuses inside a transaction block, or None."""
    if isinstance(node, ast.IndexStmt | ast.DropStmt) and node.concurrent:
        return "CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt) and any(
        p.defname == "concurrently" for p in node.params or ()
    ):
        return "REINDEX ... CONCURRENTLY"
    if isinstance(node, ast.AlterTableStmt) and any(
        isinstance(cmd, ast.PartitionCmd) and cmd.concurrent
        for cmd in (getattr(c, "def_", None) for c in node.cmds or ())
    ):
        return "DETACH PARTITION ... CONCURRENTLY"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
        return "VACUUM"
    if isinstance(node, ast.CreatedbStmt | ast.DropdbStmt | ast.AlterSystemStmt):
        return "a database-level command"
    return None


def migration_statements(text: str, source: str, *, down: bool = False) -> list[sqltext.Statement]:
    """The statements of a migration file, refusing what the engine cannot run safely.

    - Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, END, PREPARE TRANSACTION, ...):
      each file runs in one transaction with its history row, and a COMMIT inside it would make
      part of the file permanent with no history row, so a failure later in the file could no
      longer roll the file back.
    - An up file with no statement (empty or only comments): it would be recorded as applied,
      and writing its SQL later would be refused as an edit. A down file may be empty (its
      migration has nothing to undo).
    - A ``-- supastack:no-transaction`` file with more than one statement, and a statement that
      cannot run in a transaction (``CREATE INDEX CONCURRENTLY``) in a file without the header:
      Postgres would refuse it only when the deploy reaches it.
    """
    found = sqltext.split(text, source)  # parsed once per process (sqltext caches)
    if not found and not down:
        raise SupastackError(
            f"{source}: has no SQL statement (it is empty or only comments). An applied "
            "migration is recorded and can never be filled in later: write its SQL, or delete "
            "the file"
        )
    control = [s for s in found if isinstance(s.node, ast.TransactionStmt)]
    if control:
        raise SupastackError(
            "\n".join(
                f"{source}:{s.line}: {s.summary}: transaction control is not allowed in a "
                "migration; supastack runs each file in one transaction together with its "
                "history row, and ending that transaction part-way would leave the file half "
                "applied and unrecorded. Remove it (the whole file is atomic already)"
                for s in control
            )
        )
    if no_transaction(text):
        if len(found) > 1:
            raise SupastackError(
                f"{source}:{found[1].line}: a {NO_TRANSACTION} file holds exactly one statement "
                f"(it has {len(found)}): outside a transaction, a failure of a later statement "
                "would leave the earlier ones applied and the file unrecorded; put each "
                "statement in a file of its own"
            )
        unnamed = [s for s in found if isinstance(s.node, ast.IndexStmt) and not s.node.idxname]
        if unnamed:
            raise SupastackError(
                f"{source}:{unnamed[0].line}: {unnamed[0].summary}: name the index; a failed "
                "concurrent build leaves an INVALID index behind, which the rerun finds by name "
                "and drops"
            )
        return found
    for statement in found:
        what = _outside_transaction(statement.node)
        if what:
            raise SupastackError(
                f"{source}:{statement.line}: {statement.summary}: {what} cannot run inside a "
                "transaction, and every migration file runs in one; put this statement alone in "
                f"a file whose first line is {NO_TRANSACTION}"
            )
    return found


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SupastackError(f"{shown}: not UTF-8 text") from None


def discover_app(root: Path, app: str) -> list[MigrationFile]:
    """The migrations of one app in version order (none if the app has no directory)."""
    directory = root / app
    ups: dict[str, tuple[str, Path]] = {}
    downs: dict[str, Path] = {}
    problems: list[str] = []
    shown_root = f"{root.name}/{app}"
    for path in sorted(directory.glob("*.sql")) if directory.is_dir() else []:
        shown = f"{shown_root}/{path.name}"
        match = _NAME.match(path.name)
        if not match:
            problems.append(
                f"{shown}: not a migration file name; expected <version>_<name>.sql or "
                "<version>_<name>.down.sql (version: digits; name: lowercase letters, digits, _)"
            )
            continue
        version, name = match["version"], match["name"]
        if match["down"]:
            downs[f"{version}_{name}"] = path
            continue
        if version in ups:
            problems.append(
                f"{shown}: version {version} is also used by {shown_root}/{ups[version][1].name}"
            )
            continue
        ups[version] = (name, path)
    stems = {f"{v}_{n}" for v, (n, _) in ups.items()}
    problems += [
        f"{shown_root}/{path.name}: down file without its up file {stem}.sql"
        for stem, path in sorted(downs.items())
        if stem not in stems
    ]
    if problems:
        raise SupastackError("\n".join(problems))
    files = []
    for version, (name, path) in ups.items():
        down = downs.get(f"{version}_{name}")
        shown = f"{shown_root}/{path.name}"
        file = MigrationFile(
            app=app,
            version=version,
            name=name,
            source=shown,
            sql=_read(path, shown),
            down_sql=_read(down, f"{shown_root}/{down.name}") if down else None,
        )
        problems += _refusals(file)
        files.append(file)
    if problems:
        raise SupastackError("\n".join(problems))
    return sorted(files, key=lambda f: f.order)


def _refusals(file: MigrationFile) -> list[str]:
    """What :func:`migration_statements` refuses in the file and its down file, as messages."""
    texts = [(file.source, file.sql, False)]
    if file.down_sql is not None:
        texts.append((file.down_source, file.down_sql, True))
    problems = []
    for source, text, down in texts:
        try:
            migration_statements(text, source, down=down)
        except SupastackError as refused:
            problems.append(str(refused))
    return problems


def discover(root: Path, apps: Iterable[str]) -> dict[str, list[MigrationFile]]:
    """The migrations of every app; a version used by two apps is an error.

    Versions are the primary key of ``supabase_migrations.schema_migrations`` (as the Supabase
    CLI defines it), so two apps deployed to one database cannot share a version.
    """
    found = {app: discover_app(root, app) for app in apps}
    check_unique_versions(found)
    return found


def check_unique_versions(found: Mapping[str, Iterable[MigrationFile]]) -> None:
    seen: dict[str, MigrationFile] = {}
    problems = []
    for files in found.values():
        for file in files:
            other = seen.setdefault(file.version, file)
            if other is not file:
                problems.append(
                    f"{file.source}: version {file.version} is also used by {other.source}; "
                    "versions are unique per database"
                )
    if problems:
        raise SupastackError("\n".join(problems))
