"""Apply and revert migrations: one transaction per file, one deploy at a time.

Rules, each enforced before any SQL of a file runs:

- Every file runs in its own transaction together with its history row, with ``lock_timeout``
  and ``statement_timeout`` set for that transaction only. A failing statement, a timeout or a
  killed deploy leaves the file unapplied and unrecorded; files before it stay applied.
- All work happens under a session advisory lock of the database, so two deploys never apply
  the same file twice: the second waits (at most ``deploy_lock_wait``) and then finds the work
  done.
- An applied file whose checksum changed is refused (applied migrations are immutable), and so
  is a new file whose version sorts before the app's last applied version, unless the stack
  allows out-of-order migrations.
- Reverting runs the down file in a transaction with the deletion of the history row.
- A ``-- supastack:no-transaction`` file (one statement, ``supastack.migrations.files``) runs
  outside a transaction, still under the lock and the timeouts; its history row is written
  after the statement succeeds. A ``CREATE INDEX CONCURRENTLY`` that fails or is killed leaves
  an INVALID index behind, which would make the rerun fail with "already exists": the rerun
  drops it first, and the outcome says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import errors, sql

from supastack.database import sqltext
from supastack.database.postgres import Connection, connect
from supastack.errors import SupastackError, first_line
from supastack.migrations import concurrent, history
from supastack.migrations.files import (
    NO_TRANSACTION,
    MigrationFile,
    migration_statements,
    no_transaction,
)
from supastack.migrations.states import (
    BeforeRun,
    Direction,
    EngineOptions,
    Entry,
    Outcome,
    State,
    assess,
    refusal,
)

#: The advisory lock every supastack deploy takes on a database (a fixed 64-bit key).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"supastack.migrations").digest()[:8], "big", signed=True)


class MigrationEngine:
    """Applies and reverts the migrations of one database."""

    def __init__(self, conninfo: str, options: EngineOptions | None = None) -> None:
        self._conninfo = conninfo
        self.options = options or EngineOptions()

    def __repr__(self) -> str:  # the conninfo holds a password
        return f"MigrationEngine(options={self.options!r})"

    @contextmanager
    def _locked(self, subject: str) -> Iterator[Connection]:
        """A connection holding the deploy lock (released when the session ends, even on kill).

        A connection lost outside a file's own transaction (a database restart) becomes an
        error naming ``subject``; files committed before it stay applied.
        """
        with connect(self._conninfo, subject=subject) as conn:
            conn.prepare_threshold = None  # a migration's statements run once: never prepare
            try:
                conn.execute(
                    "SELECT set_config('lock_timeout', %s, false)", [self.options.deploy_lock_wait]
                )
                try:
                    conn.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
                except errors.LockNotAvailable:
                    raise SupastackError(self._holder(conn)) from None
                try:
                    history.ensure(conn)
                    yield conn
                finally:
                    if not conn.broken:
                        conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
            except psycopg.OperationalError as exc:
                if not conn.broken:
                    raise
                raise SupastackError(
                    f"{subject}: the connection to the database was lost ({first_line(exc)}); "
                    "migrations reported applied before it stay applied; deploy again once the "
                    "database answers"
                ) from None

    def _holder(self, conn: Connection) -> str:
        row = conn.execute(
            "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = ((%s >> 32) & 4294967295)::oid AND l.objid = (%s & 4294967295)::oid",
            [LOCK_KEY, LOCK_KEY],
        ).fetchone()
        who = (
            f"pid {row[0]} ({row[1] or 'no application name'}, since {row[2]:%H:%M:%S})"
            if row
            else "another session"
        )
        return (
            f"another deploy holds the migration lock of this database: {who}; gave up after "
            f"waiting {self.options.deploy_lock_wait} (supastack:migrations.deployLockWait)"
        )

    def status(self, app: str, files: Sequence[MigrationFile]) -> list[Entry]:
        """Every migration's state; reads only (no lock, creates nothing)."""
        with connect(self._conninfo) as conn:
            return assess(app, files, history.read(conn, app))

    def migrate(
        self, app: str, files: Sequence[MigrationFile], before_run: BeforeRun | None = None
    ) -> list[MigrationFile]:
        """Apply every pending file of ``app`` in order; return those applied now.

        Refuses before running anything if any file was edited, is out of order or is missing.
        """
        with self._locked(f"migrations of app {app!r}") as conn:
            entries = assess(app, files, history.read(conn, app))
            problems = [p for e in entries if (p := refusal(e, self.options))]
            if problems:
                raise SupastackError("\n".join(problems))
            pending = [e.file for e in entries if e.file and e.state is not State.APPLIED]
            for file in pending:
                self._run(conn, file, Direction.UP, before_run)
            self._adopt(conn, entries)
            return pending

    def apply(self, file: MigrationFile, before_run: BeforeRun | None = None) -> Outcome:
        """Apply one file unless it is applied already (the Pulumi resource's create)."""
        with self._locked(file.source) as conn:
            entry = next(
                e for e in assess(file.app, [file], history.read(conn, file.app)) if e.file is file
            )
            problem = refusal(entry, self.options)
            if problem:
                raise SupastackError(problem)
            if entry.state is State.APPLIED:
                self._adopt(conn, [entry])
                return Outcome(changed=False)
            return self._run(conn, file, Direction.UP, before_run)

    def revert(self, file: MigrationFile, before_run: BeforeRun | None = None) -> Outcome:
        """Run the down file and forget the migration (the Pulumi resource's delete)."""
        with self._locked(file.down_source) as conn:
            rows = {r.version: r for r in history.read(conn, file.app) if r.app == file.app}
            if file.version not in rows:
                return Outcome(changed=False)
            if file.down_sql is None:
                raise SupastackError(
                    f"{file.source}: cannot be reverted, it has no down file; add "
                    f"{file.down_source} or keep the migration"
                )
            return self._run(conn, file, Direction.DOWN, before_run)

    def _adopt(self, conn: Connection, entries: Sequence[Entry]) -> None:
        """Claim applied rows that no app owns yet (written by the Supabase CLI)."""
        for entry in entries:
            if (
                entry.state is State.APPLIED
                and entry.file
                and entry.applied
                and not entry.applied.app
            ):
                statements = entry.file.statement_texts()
                history.record(
                    conn,
                    entry.file.app,
                    entry.version,
                    name=entry.name,
                    checksum=entry.file.checksum,
                    statements=statements,
                )

    def _run(
        self,
        conn: Connection,
        file: MigrationFile,
        direction: Direction,
        before_run: BeforeRun | None,
    ) -> Outcome:
        """Run one file (or its down file) with its history change."""
        source, text = _side(file, direction)
        statements = migration_statements(text, source, down=direction is Direction.DOWN)
        backup_key = before_run(file, direction) if before_run else None
        if no_transaction(text):
            notes = self._run_alone(conn, file, direction, statements, backup_key)
            return Outcome(True, backup_key, notes)
        # Round trips are the engine's cost: BEGIN and the timeouts travel with the first
        # statement, the history change with COMMIT and RESET ALL (which undoes any session SET
        # a file made, before the next file). A failing statement is still named: its position
        # is taken relative to its own text.
        head = (
            sql.SQL("BEGIN; SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {}; ")
            .format(
                sql.Literal(self.options.lock_timeout),
                sql.Literal(self.options.statement_timeout),
            )
            .as_string(conn)
        )
        try:
            if not statements:
                conn.execute(head.encode())
            for index, statement in enumerate(statements, 1):
                shift = len(head) if index == 1 else 0
                try:
                    conn.execute((head[:shift] + statement.text).encode())
                except psycopg.Error as exc:
                    raise SupastackError(
                        self._failure(source, text, index, statement, exc, shift=shift)
                        + "\nthe file's transaction was rolled back; nothing of it is applied"
                    ) from None
        except BaseException as exc:
            if not conn.broken:
                conn.execute("ROLLBACK; RESET ALL")
                raise
            if not isinstance(exc, psycopg.Error):
                raise  # a statement's failure is named already (a lost session rolls back)
            raise SupastackError(
                f"{source}: the connection to the database was lost "
                f"({first_line(exc)}); the file's transaction did not commit, nothing of it "
                "is applied; deploy again once the database answers"
            ) from None
        change = self._history_change(file, direction, [s.text for s in statements], backup_key)
        try:
            conn.execute(sql.Composed([change, sql.SQL("; COMMIT; RESET ALL")]))
        except psycopg.Error as exc:
            if conn.broken:
                raise SupastackError(self._commit_outcome(file, direction, source, exc)) from None
            conn.execute("ROLLBACK; RESET ALL")
            if isinstance(exc, errors.UniqueViolation) and exc.diag.table_name == history.TABLE:
                raise SupastackError(
                    f"{file.source}: version {file.version} is recorded for another app; the "
                    "file's transaction was rolled back"
                ) from None
            raise SupastackError(
                f"{source}: failed at COMMIT (a deferred constraint or trigger): "
                f"{first_line(exc)}; the file's transaction was rolled back; nothing of it is "
                "applied"
            ) from None
        return Outcome(True, backup_key)

    def _run_alone(
        self,
        conn: Connection,
        file: MigrationFile,
        direction: Direction,
        statements: list[sqltext.Statement],
        backup_key: str | None,
    ) -> tuple[str, ...]:
        """A no-transaction file: its one statement, then (if it succeeded) its history change.

        The timeouts are set for the session and reset afterwards. Returns what was repaired.
        """
        source, text = _side(file, direction)
        done = "applied" if direction is Direction.UP else "reverted"
        statement = statements[0] if statements else None
        index_name = concurrent.concurrent_index(statement.node) if statement else None
        timeouts = sql.SQL("SET lock_timeout = {}; SET statement_timeout = {}").format(
            sql.Literal(self.options.lock_timeout), sql.Literal(self.options.statement_timeout)
        )
        notes: tuple[str, ...] = ()
        try:
            conn.execute(timeouts)
            if index_name and concurrent.drop_invalid_index(conn, index_name):
                notes = (
                    f"{source}: dropped the INVALID index {index_name} that an earlier failed "
                    "or interrupted build of this file left behind, and built it again",
                )
            if statement is not None:
                try:
                    conn.execute(statement.text.encode())
                except psycopg.Error as exc:
                    if conn.broken:
                        raise
                    leftover = (
                        f"; the build left the INVALID index {index_name} behind, which the next "
                        "deploy drops before building it again"
                        if index_name and concurrent.invalid_index(conn, index_name)
                        else ""
                    )
                    raise SupastackError(
                        self._failure(source, text, 1, statement, exc)
                        + f"\nthe file runs outside a transaction ({NO_TRANSACTION}); it "
                        f"is not recorded as {done}{leftover}"
                    ) from None
            change = self._history_change(file, direction, [s.text for s in statements], backup_key)
            conn.execute(sql.Composed([sql.SQL("BEGIN; "), change, sql.SQL("; COMMIT")]))
        except psycopg.OperationalError as exc:
            if not conn.broken:
                raise
            raise SupastackError(
                f"{source}: the connection to the database was lost ({first_line(exc)}) while "
                "the file ran outside a transaction; it is not recorded, and a CREATE INDEX "
                "CONCURRENTLY it ran is left INVALID: the next deploy drops that index and runs "
                "the file again"
            ) from None
        finally:
            if not conn.broken:
                conn.execute("RESET ALL")
        return notes

    def _commit_outcome(
        self, file: MigrationFile, direction: Direction, source: str, lost: psycopg.Error
    ) -> str:
        """What happened to a file whose connection was lost during COMMIT: the commit may or
        may not have happened, and only its history row (written in the same transaction) says
        which, so look on a new connection."""
        head = (
            f"{source}: the connection to the database was lost during COMMIT ({first_line(lost)})"
        )
        try:
            with connect(self._conninfo) as conn:
                recorded = any(
                    row.version == file.version and row.app == file.app
                    for row in history.read(conn, file.app)
                )
        except (SupastackError, psycopg.Error) as exc:
            return (
                f"{head}; whether it committed is unknown, and checking failed "
                f"({first_line(exc)}): run `supastack db status` when the database answers"
            )
        done = recorded if direction is Direction.UP else not recorded
        what = "applied" if direction is Direction.UP else "reverted"
        if done:
            return f"{head}; it did commit: the migration is {what}; deploy again to go on"
        return f"{head}; it did not commit: nothing of it is {what}; deploy again"

    @staticmethod
    def _history_change(
        file: MigrationFile, direction: Direction, statements: list[str], backup_key: str | None
    ) -> sql.Composed:
        """The history change that commits with the file (a pending file has no row yet, so a
        row of another app with its version fails the insert, and with it the file)."""
        if direction is Direction.DOWN:
            parts = [history.forget_statement(file.app, file.version)]
        else:
            parts = [
                history.insert_statement(
                    file.app, file.version, name=file.name, checksum=file.checksum,
                    statements=statements,
                )
            ]  # fmt: skip
        if backup_key:
            parts.append(
                history.backup_statement(backup_key, file.app, file.version, direction.value)
            )
        return sql.SQL("; ").join(parts)

    def _failure(
        self,
        source: str,
        text: str,
        index: int,
        statement: sqltext.Statement,
        exc: psycopg.Error,
        *,
        shift: int = 0,
    ) -> str:
        """``shift``: characters sent before the statement in the same query (its position in
        the error counts them)."""
        diag = exc.diag
        line = statement.line
        if diag.statement_position and int(diag.statement_position) > shift:
            position = int(diag.statement_position) - shift
            line = sqltext.line_of(text, statement.offset + position - 1)
        hint = ""
        if isinstance(exc, errors.QueryCanceled):
            hint = (
                f" (statement_timeout is {self.options.statement_timeout}; "
                "supastack:migrations.statementTimeout)"
            )
        elif isinstance(exc, errors.LockNotAvailable):
            hint = (
                f" (lock_timeout is {self.options.lock_timeout}; another session holds a lock "
                "this statement needs; supastack:migrations.lockTimeout)"
            )
        return (
            f"{source}:{line}: statement {index} failed: {diag.message_primary or exc}"
            f" [{diag.sqlstate}]{hint}\n  {statement.summary}"
        )


def _side(file: MigrationFile, direction: Direction) -> tuple[str, str]:
    """(path shown, text) of the up or the down file."""
    if direction is Direction.UP:
        return file.source, file.sql
    return file.down_source, file.down_sql or ""
