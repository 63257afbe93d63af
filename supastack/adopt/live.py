"""Adopting a live project (``supastack adopt --stack S``): read what the project already runs and
prepare the first deploy to take it over instead of making it again.

- Migrations: an app with rows in the history table is adopted as today (the engine claims rows
  no app owns). An app with none (a guide followed by hand) is compared with what its
  migrations make (the drift machinery, every file counted as applied): when the live schema is
  what they make, its files are recorded as applied; what differs is shown as SQL, and nothing
  runs or is recorded until it is accepted. Access (grants, RLS, policies) is left to the
  deploy, which makes it as declared. A guide followed part of the way (or files that need
  an app the deploy makes first) is compared with the longest prefix of the app's files
  whose shadow can be built and drops nothing live, or with a shorter one the live schema
  is exactly (files added since the guide): those are recorded, the deploy runs the rest.
- An app whose schema holds nothing while its tables are in ``public`` (a guide's tables, the
  app keeping them in a schema of its own): the migration that moves them, rows and all
  (:mod:`supastack.adopt.moves`), shown and run once accepted; adopt then reads the project
  again and compares the moved schema as above.
- Blocking: a policy on an app's table the stack does not declare, and a declared extension in
  another schema (:mod:`supastack.database.declared`), each with the SQL that replaces it by the
  stack's: the stack's policies of that table are created in the same transaction as the other
  is dropped, so no reader loses access in between, and the deploy then adopts them.
- Roles, schemas and extensions the stack declares and the project has, as declared: listed for
  the deploy to import (``supastack:adoptImports``; :mod:`supastack.adopt.imports`); one that
  differs is blocking, with the SQL that makes it as declared.
- Cron jobs live in the project: a declared one that is what the program declares is taken
  over by name by the deploy; one that differs (a guide's, its URL and key written into the
  command) is named with the fields that differ (never their values) and, once accepted, left
  running until the deploy schedules the declared job in its place (``supastack:adoptReplaces``;
  pg_cron upserts by name: same job id, no run missed; the declared command may read what only
  the deploy makes, Vault secrets say); the others are listed with the statement that would
  remove them. Adopt removes nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import psycopg

from supastack.adopt import imports, moves
from supastack.config.manifest import AppManifest
from supastack.config.settings import AdoptImports
from supastack.database import rls, schema_diff
from supastack.database.declared import Declared, Undeclared, undeclared
from supastack.database.postgres import connect
from supastack.database.schema_snapshot import Difference
from supastack.errors import SupastackError, first_line
from supastack.migrations import history
from supastack.migrations.drift import ShadowBuildError, drift
from supastack.migrations.files import MigrationFile
from supastack.operations import cron

#: Statements of what a deploy makes from the manifests, not from the migrations (access, and
#: extensions: the shadow has them where the stack declares them, compared schemas or not).
_ACCESS = re.compile(
    r"^\s*((CREATE|DROP|ALTER)\s+(POLICY|EXTENSION)|GRANT|REVOKE)\b|ROW\s+LEVEL\s+SECURITY",
    re.IGNORECASE,
)
#: pg-schema-diff's hazards that --accept never runs: a human runs them after review.
_DESTRUCTIVE = frozenset({"DELETES_DATA", "CORRUPTS_INDEX", "INDEX_DROPPED"})
#: A function whose body's dependencies pg-schema-diff cannot track: refused when dropped (what
#: calls it breaks), not when made or replaced (the differ orders those after what they call).
_UNTRACKABLE = "HAS_UNTRACKABLE_DEPENDENCIES"
_DROP = re.compile(r"^\s*DROP\b", re.IGNORECASE)
_ACCESS_KINDS = frozenset({"grant", "schema grant", "default privilege", "policy", "rls"})


def _statements(found: Difference | schema_diff.Planned) -> tuple[str, ...]:
    if isinstance(found, schema_diff.Planned):
        return (found.statement,)
    return found.statements


def _is_access(found: Difference | schema_diff.Planned) -> bool:
    if isinstance(found, Difference) and found.kind in _ACCESS_KINDS:
        return True
    return all(_ACCESS.search(statement) for statement in _statements(found))


@dataclass(frozen=True)
class Replacement:
    """Blocking differences of one object (a table's policies, an extension) and the SQL that
    resolves them, in one transaction."""

    subject: str
    found: tuple[Undeclared, ...]
    statements: tuple[str, ...]

    def __str__(self) -> str:
        head = "".join(f"-- {u.kind} {u.object}: {u.detail}\n" for u in self.found)
        body = "".join(f"  {s.rstrip(';')};\n" for s in self.statements)
        return f"{head}BEGIN;\n{body}COMMIT;"


@dataclass
class Survey:
    """What adopt found."""

    recorded: dict[str, int] = field(default_factory=dict)
    """Apps whose migrations the history records (rows found), adopted as today."""
    baseline: dict[str, list[MigrationFile]] = field(default_factory=dict)
    """Apps with no history, whose files are recorded as applied once the schema matches."""
    differences: list[Difference | schema_diff.Planned] = field(default_factory=list)
    """Where the hand-made schema differs from what the baseline apps' migrations make."""
    moves: list[moves.Move] = field(default_factory=list)
    """Apps whose tables are in ``public``: moved into their schema once accepted."""
    notes: list[str] = field(default_factory=list)
    blocking: list[Replacement] = field(default_factory=list)
    jobs_taken_over: list[str] = field(default_factory=list)
    jobs_differing: dict[str, list[str]] = field(default_factory=dict)
    """Declared jobs that exist and differ: the fields that do."""
    jobs_replaced: list[str] = field(default_factory=list)
    """Differing jobs already accepted (``supastack:adoptReplaces``): the deploy replaces them."""
    jobs_undeclared: list[str] = field(default_factory=list)
    imports: AdoptImports = field(default_factory=AdoptImports)
    """Declared roles, schemas and extensions live as declared: the deploy imports them."""
    objects_blocking: list[str] = field(default_factory=list)
    """Declared roles and extensions live and not as declared (:mod:`supastack.adopt.imports`)."""
    _declared_jobs: dict[str, cron.Job] = field(default_factory=dict, repr=False)

    @property
    def resolved(self) -> bool:
        return not (
            self.differences or self.blocking or self.jobs_differing or self.moves
            or self.objects_blocking
        )  # fmt: skip


def survey(
    conninfo: str, manifests: Sequence[AppManifest], files: dict[str, list[MigrationFile]],
    declared_jobs: Sequence[cron.Job] = (), replacing: Collection[str] = (),
) -> Survey:  # fmt: skip
    """Read the live project (nothing is changed); ``replacing``: the differing jobs an earlier
    ``--accept`` left for the deploy to replace."""
    found = Survey(_declared_jobs={job.name: job for job in declared_jobs})
    with connect(conninfo, subject="the live database") as conn:
        for manifest in manifests:
            versions = {f.version for f in files.get(manifest.app, [])}
            rows = [r for r in history.read(conn, manifest.app) if r.version in versions]
            if rows:
                found.recorded[manifest.app] = len(rows)
            elif versions and _holds_objects(conn, manifest.schema_name):
                found.baseline[manifest.app] = list(files[manifest.app])
            elif versions and (move := moves.find(conn, manifest, files[manifest.app])):
                found.moves.append(move)
            # else a new app (its schema empty or absent): the deploy runs its migrations
    _jobs(conninfo, found, replacing)
    for manifest in manifests:
        if manifest.app in found.baseline:
            _closest(conninfo, manifests, files, manifest, found)
    with connect(conninfo, subject="the live database") as conn:
        found.notes += [
            f"view {view} stays from the move of app {m.app}'s tables: once nothing reads it "
            f"(the functions redeployed), DROP VIEW {view};"
            for m in manifests for view in moves.views_left(conn, m)
        ]  # fmt: skip
        objects = imports.survey(conn, manifests)
    found.imports, found.objects_blocking = objects.imports, objects.blocking
    declared = Declared.of_manifests(manifests)
    found.blocking = _replacements(conninfo, undeclared(conninfo, declared), manifests)
    return found


def _closest(
    conninfo: str, manifests: Sequence[AppManifest], files: dict[str, list[MigrationFile]],
    manifest: AppManifest, found: Survey,
) -> None:  # fmt: skip
    """Compare the app with the longest prefix of its files whose shadow builds and whose
    differences drop nothing live (else the prefix with the fewest differences), unless a
    shorter one is exactly what the project has (sought while shorter prefixes differ less):
    a project that never ran the last files (built from a guide before the app gained them)
    has those before them recorded, and the deploy runs the rest as written, rather than the
    differ's statements standing in for them. That prefix is its baseline."""
    every = found.baseline[manifest.app]
    #: (drops something live, size, differences, notes)
    best: tuple[bool, int, list[Difference | schema_diff.Planned], list[str]] | None = None
    failed: list[str] = []
    size, previous = len(every), 0
    while size > 0:
        trial = {**files, **found.baseline, manifest.app: every[:size]}
        try:
            result = drift(conninfo, manifests, trial, [manifest], baseline=set(found.baseline))
        except ShadowBuildError as exc:  # a file needs what the deploy makes first
            if exc.app != manifest.app or exc.applied >= size:
                raise
            failed.append(first_line(exc))
            size = exc.applied  # next, the files before the one that failed
            continue
        differences = [d for d in result.differences if not _is_access(d)]
        if not differences:
            best = (False, size, differences, result.notes)
            break
        destructive = bool(_destructive(differences))
        if best is None or (best[0] and (not destructive or len(differences) < len(best[2]))):
            best = (destructive, size, differences, result.notes)
        elif not best[0] and (destructive or len(differences) >= previous):
            break  # shorter prefixes move away from the live schema: none is what it has
        previous = len(differences)
        size -= 1
    if best is None:
        raise SupastackError(f"adopt: app {manifest.app}: no shadow of its migrations could be "
                             f"built: {failed[-1] if failed else 'no files'}")  # fmt: skip
    _, size, differences, notes = best
    found.baseline[manifest.app] = every[:size]
    found.differences += differences
    found.notes += notes
    if size < len(every):
        rest = ", ".join(f"{f.version}_{f.name}" for f in every[size:])
        found.notes.append(
            f"app {manifest.app}: the live schema is closest to its first {size} of "
            f"{len(every)} migration files; those are recorded as applied and the deploy runs "
            f"the others ({rest})"
            + (f"; the shadow could not be built with them: {failed[0]}" if failed else "")
        )


def _destructive(differences: Sequence[Difference | schema_diff.Planned]) -> list[str]:
    """The planned statements that can lose data or break what depends on them."""
    refused = []
    for d in differences:
        if not isinstance(d, schema_diff.Planned):
            continue
        kinds = {kind for kind, _ in d.hazards}
        if kinds & _DESTRUCTIVE or (_UNTRACKABLE in kinds and _DROP.match(d.statement)):
            refused.append(str(d).strip())
    return refused


def _holds_objects(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> bool:
    """Whether the schema holds a relation or function of its own (not an extension's)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = to_regnamespace(%(s)s) "
        "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')) "
        "OR EXISTS (SELECT FROM pg_proc p WHERE p.pronamespace = to_regnamespace(%(s)s) "
        "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'))",
        {"s": schema},
    ).fetchone()
    return bool(row and row[0])


def _jobs(conninfo: str, found: Survey, replacing: Collection[str]) -> None:
    """Sort the live jobs: declared and alike, declared and different (or accepted for the
    deploy to replace), declared by no app."""
    for live_job in cron.read_all(conninfo):
        declared = found._declared_jobs.get(live_job.name)
        if declared is None:
            found.jobs_undeclared.append(live_job.name)
        elif (differ := cron.differing_fields(declared, live_job)) and live_job.name in replacing:
            found.jobs_replaced.append(live_job.name)
        elif differ:
            found.jobs_differing[live_job.name] = differ
        else:
            found.jobs_taken_over.append(live_job.name)


def _replacements(
    conninfo: str, found: Sequence[Undeclared], manifests: Sequence[AppManifest]
) -> list[Replacement]:
    """One replacement per table (its undeclared policies dropped, the stack's created where
    not live yet) and per misplaced extension."""
    tables: dict[str, list[Undeclared]] = {}
    for item in found:
        if item.kind == "policy":
            tables.setdefault(item.object.partition(": ")[0], []).append(item)
    return [
        *(_table_replacement(conninfo, table, items, manifests) for table, items in tables.items()),
        *(Replacement(u.object, (u,), (u.remedy,)) for u in found if u.kind != "policy"),
    ]


def _table_replacement(
    conninfo: str, table: str, found: list[Undeclared], manifests: Sequence[AppManifest]
) -> Replacement:
    schema, _, name = table.partition(".")
    wanted = [
        rls.Policy.of_spec(schema, p)
        for m in manifests
        if m.schema_name == schema
        for p in m.policies
        if p.table == name
    ]
    creates = [
        rls.create_statement(policy).as_string(None)
        for policy in wanted
        if rls.read_policy(conninfo, policy.schema, policy.table, policy.name) is None
    ]
    return Replacement(table, tuple(found), (*creates, *(u.remedy for u in found)))


def accept(conninfo: str, found: Survey) -> None:
    """Run what was reviewed (nothing, if a statement of the schema's differences can lose data:
    those a human runs): the baseline's differences, one statement after the other, as the
    differ plans them (an index is built ``CONCURRENTLY``, which no transaction may hold; a
    statement that fails stops there, named, and adopt run again shows what is left); each
    blocking replacement in a transaction of its own (after the differences: the stack's
    policies may call the functions they make); then record the baseline apps' files as
    applied, in one transaction. Differing cron jobs are the deploy's (``adoptReplaces``)."""
    if refused := _destructive(found.differences):
        raise SupastackError(
            "adopt --accept runs no statement that can lose data; nothing was run. Review and "
            "run these by hand (or change the migrations), then adopt again:\n" + "\n".join(refused)
        )
    with connect(conninfo, subject="adopt") as conn:
        for difference in found.differences:
            _run(conn, _statements(difference), "the schema's differences", in_transaction=False)
        for replacement in found.blocking:  # after: the stack's policies call its functions
            what = f"the replacement of {replacement.subject}"
            _run(conn, replacement.statements, what, in_transaction=True)
    record_baseline(conninfo, found.baseline)


def move(conninfo: str, found: Sequence[moves.Move]) -> None:
    """Run each app's move in a transaction of its own."""
    with connect(conninfo, subject="adopt") as conn:
        for each in found:
            _run(conn, each.statements(), f"the move of app {each.app}", in_transaction=True)


def _run(
    conn: psycopg.Connection[tuple[object, ...]], statements: Sequence[str], what: str,
    *, in_transaction: bool,
) -> None:  # fmt: skip
    done = "nothing of it was applied" if in_transaction else "the statements before it were"
    statement = ""
    try:
        with conn.transaction() if in_transaction else nullcontext():
            for statement in statements:
                conn.execute(statement.encode())
    except psycopg.Error as exc:
        raise SupastackError(
            f"adopt: {what}: {first_line(exc)} ({statement.strip()[:200]}); {done}; run adopt "
            "again to see what is left"
        ) from None


def record_baseline(conninfo: str, baseline: dict[str, list[MigrationFile]]) -> int:
    """Record every file of the baseline apps as applied (the live schema is what they make);
    the number of rows written."""
    written = 0
    with connect(conninfo, subject="the migration history") as conn, conn.transaction():
        history.ensure(conn)
        for app, files in baseline.items():
            for file in files:
                if not history.record(conn, app, file.version, name=file.name,
                                      checksum=file.checksum,
                                      statements=file.statement_texts()):  # fmt: skip
                    raise SupastackError(
                        f"{file.source}: version {file.version} is recorded for another app"
                    )
                written += 1
    return written
