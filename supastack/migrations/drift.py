"""Whole-schema drift: the live database next to one built from what the stack says it applied.

``supastack db drift`` reads the migrations recorded as applied in the live history, builds a
shadow database in a throwaway cluster (the local bootstrap, the apps' extensions, roles and
schemas, those migrations in order, and the manifests' grants, default privileges, RLS,
policies and realtime membership: what a deploy would have made), gives it the partitions
pg_partman made in the live one (runtime state, not what migrations make), and compares the
stack's app schemas in both. A cluster of its own (not a database beside the live one) is what
lets the same command check staging and prod: the Supabase CLI's shadow database does the
same in Docker.

The comparison is Stripe's pg-schema-diff (``supastack.database.schema_diff``: tables, columns,
indexes, constraints, functions, triggers, sequences, views, materialized views, enum types,
RLS, policies and table privileges), whose plan, with its hazards, is the SQL printed. What it
does not compare, supastack's own catalog snapshot does (``supastack.database.schema_snapshot``):
schema privileges, default privileges, publication membership, and the privileges of views,
materialized views, sequences and functions. Where pg-schema-diff cannot
be built (no Go), the snapshot compares everything, and the drift says so.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from supastack.config.manifest import AppManifest, merged_extensions
from supastack.database import partitions, publication, rls, schema_diff
from supastack.database.postgres import connect
from supastack.database.privileges import privilege_steps, step_statements
from supastack.database.schema_snapshot import Difference, difference, snapshot
from supastack.errors import SupastackError, first_line
from supastack.local import go_tools, system
from supastack.local.bootstrap import apply_bootstrap
from supastack.local.cluster import Cluster
from supastack.local.paths import StatePaths
from supastack.migrations import history
from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import MigrationFile

#: What pg-schema-diff (v1.0.5) does not compare, supastack's snapshot does: schema privileges,
#: default privileges, publication membership, and the privileges of views, materialized views,
#: sequences and functions (pg-schema-diff compares only tables').
NOT_IN_THE_DIFFER = ("schema grant", "default privilege", "publication")


def _not_in_the_differ(found: Difference) -> bool:
    return found.kind in NOT_IN_THE_DIFFER or (
        found.kind == "grant" and not found.name.startswith("TABLE ")
    )


@dataclass(frozen=True)
class Drift:
    """What ``db drift`` found."""

    differences: list[Difference | schema_diff.Planned]
    notes: list[str]
    """Recorded migrations whose file is missing or was edited (the shadow cannot be exact)."""
    compared_by: str = "pg-schema-diff and supastack's snapshot"

    @property
    def clean(self) -> bool:
        return not self.differences and not self.notes


def recorded_files(
    conninfo: str, app: str, files: Sequence[MigrationFile]
) -> tuple[list[MigrationFile], list[str]]:
    """The app's files recorded as applied in the live history, and notes on recorded rows the
    files do not match (missing, or edited since)."""
    with connect(conninfo, subject=f"migration history of app {app!r}") as conn:
        rows = {r.version: r for r in history.read(conn, app) if r.app == app}
    by_version = {f.version: f for f in files}
    chosen = [f for f in files if f.version in rows]
    notes = [
        f"migration {version}_{row.name} of app {app!r} is recorded as applied but its file is "
        "missing; the shadow database is built without it"
        for version, row in sorted(rows.items())
        if version not in by_version
    ]
    notes += [
        f"{f.source}: was edited after it was applied (checksum differs); the shadow database "
        "runs it as it is now"
        for f in chosen
        if rows[f.version].checksum not in (None, f.checksum)
    ]
    return chosen, notes


@contextmanager
def shadow_cluster() -> Iterator[str]:
    """A throwaway Postgres cluster with the Supabase-compatible bootstrap; yields its
    connection string and removes everything afterwards."""
    root = Path(tempfile.mkdtemp(prefix="supastack-shadow-"))
    root.chmod(0o755)  # the cluster's owner (postgres, when run as root) must reach it
    cluster = Cluster(StatePaths(root), system.free_port(), secrets.token_urlsafe(24))
    try:
        cluster.create()
        cluster.start()
        apply_bootstrap(cluster.dsn(), secrets.token_urlsafe(24))
        yield cluster.dsn()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _declare(conninfo: str, manifests: Sequence[AppManifest]) -> None:
    """What the stack's resources make besides migrations: extensions, roles, schemas first."""
    with connect(conninfo, subject="the shadow database") as conn:
        for extension in merged_extensions(list(manifests)):
            for statement in extension.create_statements():
                conn.execute(statement)
        for manifest in manifests:
            for role in manifest.roles:
                conn.execute(
                    sql.SQL("DO $$ BEGIN CREATE ROLE {} NOLOGIN; EXCEPTION WHEN duplicate_object "
                            "THEN NULL; END $$").format(sql.Identifier(role.name))
                )  # fmt: skip
                for member in role.member_of:
                    conn.execute(
                        sql.SQL("GRANT {} TO {}").format(
                            sql.Identifier(member), sql.Identifier(role.name)
                        )
                    )
            if manifest.owns_schema:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(manifest.schema_name)
                    )
                )


def _access(conninfo: str, manifest: AppManifest) -> None:
    """The app's grants, default privileges, RLS, policies and realtime membership."""
    schema = manifest.schema_name
    with connect(conninfo, subject="the shadow database") as conn:
        for step in privilege_steps(manifest):
            for statement in step_statements(step, schema):
                conn.execute(statement)
    for table in manifest.rls:
        rls.enable_rls(conninfo, schema, table)
    for spec in manifest.policies:
        rls.create_policy(conninfo, rls.Policy.of_spec(schema, spec))
    if manifest.realtime:
        publication.add_tables(
            conninfo, publication.REALTIME, [(schema, table) for table in manifest.realtime]
        )


class ShadowBuildError(SupastackError):
    """A migration file failed in the shadow: ``app``'s first ``applied`` files went in."""

    def __init__(self, message: str, app: str, applied: int) -> None:
        super().__init__(message)
        self.app, self.applied = app, applied


def build_expected(
    conninfo: str, manifests: Sequence[AppManifest], applied: dict[str, list[MigrationFile]]
) -> None:
    """Make the shadow database what the stack would have made, app after app."""
    try:
        _declare(conninfo, manifests)
        engine = MigrationEngine(conninfo)
        for manifest in manifests:
            try:
                engine.migrate(manifest.app, applied.get(manifest.app, []))
            except SupastackError as failed:
                with connect(conninfo, subject="the shadow database") as conn:
                    went_in = sum(r.app == manifest.app for r in history.read(conn, manifest.app))
                raise ShadowBuildError(str(failed), manifest.app, went_in) from None
            if applied.get(manifest.app):  # else its tables are not made yet: nothing to grant
                _access(conninfo, manifest)
    except psycopg.Error as exc:
        raise SupastackError(f"building the shadow database failed: {first_line(exc)}") from None


def _compared(manifests: Sequence[AppManifest]) -> tuple[list[str], list[str]]:
    """The schemas compared, and the partitioned parents whose partitions are left out."""
    schemas = list(dict.fromkeys(m.schema_name for m in manifests))
    parents = [f"{m.schema_name}.{p.table}" for m in manifests for p in m.partitions]
    return schemas, parents


_RELATIONS = (
    "SELECT n.nspname, c.relname, c.relacl::text[] FROM pg_class c JOIN pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
)


def _live_privileges(live: str, shadow: str, schemas: Sequence[str]) -> None:
    """Adoption leaves access to the deploy, which makes it as declared: the shadow's relations
    take the live privileges, so the differ plans none (it cannot change a partitioned table's
    with its partitions'). A privilege of a role the shadow lacks is left out."""
    with connect(live, subject="the live database") as conn:
        relations = conn.execute(_RELATIONS, [list(schemas)]).fetchall()
    with connect(shadow, subject="the shadow database") as conn:
        for schema, name, acl in relations:
            target = sql.Identifier(schema, name).as_string(conn)
            try:
                with conn.transaction():
                    conn.execute(
                        "UPDATE pg_class SET relacl = %s::aclitem[] WHERE oid = to_regclass(%s)",
                        [acl, target],
                    )
            except psycopg.errors.UndefinedObject:
                continue


def drift(
    live: str,
    manifests: Sequence[AppManifest],
    files: dict[str, list[MigrationFile]],
    compared: Sequence[AppManifest] | None = None,
    baseline: Collection[str] = (),
) -> Drift:
    """Compare the live database with the shadow built from its recorded migrations.

    ``manifests`` are the stack's apps in deployment order (all of them go into the shadow);
    ``compared`` the apps whose schemas are compared (default: all); for the apps in
    ``baseline`` every file counts as applied (adoption: a schema made by hand, no history),
    and the relations' privileges are not compared (the deploy makes them as declared).
    """
    applied: dict[str, list[MigrationFile]] = {}
    notes: list[str] = []
    for manifest in manifests:
        if manifest.app in baseline:
            applied[manifest.app] = list(files.get(manifest.app, []))
            continue
        applied[manifest.app], found = recorded_files(
            live, manifest.app, files.get(manifest.app, [])
        )
        notes += found
    schemas, parents = _compared(compared or manifests)
    try:
        differ: Path | None = go_tools.ensure_schema_differ()
    except SupastackError as missing:
        differ, by = None, f"supastack's snapshot alone ({first_line(missing)})"
    with connect(live, subject="the live database") as conn:
        live_snapshot = snapshot(conn, schemas, parents)
    with shadow_cluster() as shadow:
        build_expected(shadow, manifests, applied)
        with connect(shadow, subject="the shadow database") as conn:
            expected = snapshot(conn, schemas, parents)
        if differ is None:
            return Drift(list(difference(live_snapshot, expected)), notes, by)
        partitions.mirror(live, shadow, parents)
        if baseline:
            _live_privileges(live, shadow, schemas)
        planned = schema_diff.plan(differ, live, shadow, schemas)
    rest = [d for d in difference(live_snapshot, expected) if _not_in_the_differ(d)]
    return Drift([*planned, *rest], notes)
