"""Materialized views refreshed on a schedule: the refresh command, the checks before its job
is created, and what smoke reports (populated, and how long since the last refresh).

A migration creates the view; the manifest's ``materializedViews:`` entry schedules its
refresh as a pg_cron job. ``REFRESH ... CONCURRENTLY`` lets readers go on during the refresh,
but Postgres accepts it only on a populated view with a unique index on plain columns and no
``WHERE``: both are checked before the job exists, so a job never fails on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from supastack.database.postgres import connect
from supastack.errors import SupastackError


@dataclass(frozen=True)
class Refresh:
    """One scheduled refresh."""

    schema: str
    view: str
    concurrently: bool = False

    @property
    def name(self) -> str:
        """``schema.view``, for messages and outputs."""
        return f"{self.schema}.{self.view}"

    @property
    def command(self) -> str:
        """The SQL the job runs."""
        return (
            sql.SQL("REFRESH MATERIALIZED VIEW {}{}")
            .format(
                sql.SQL("CONCURRENTLY " if self.concurrently else ""),
                sql.Identifier(self.schema, self.view),
            )
            .as_string()
        )


def check_refreshable(conninfo: str, refresh: Refresh, source: str) -> None:
    """Refuse, naming the manifest entry, a view its job could never refresh."""
    where = f"{source}: materializedViews: {refresh.name}"
    with connect(conninfo, subject=where) as conn:
        row = conn.execute(
            "SELECT c.relkind, c.relispopulated, EXISTS (SELECT FROM pg_index i "
            "WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid "
            "AND i.indpred IS NULL AND i.indexprs IS NULL) "
            "FROM pg_class c WHERE c.oid = to_regclass(%s)",
            [sql.Identifier(refresh.schema, refresh.view).as_string()],
        ).fetchone()
    if row is None or row[0] != "m":
        raise SupastackError(
            f"{where}: is not a materialized view; create it in a migration "
            "(CREATE MATERIALIZED VIEW ...)"
        )
    _, populated, unique_index = row
    if refresh.concurrently and not unique_index:
        raise SupastackError(
            f"{where}: concurrently: true needs a unique index on the view over plain columns, "
            "with no WHERE clause (Postgres refuses REFRESH ... CONCURRENTLY otherwise); create "
            f"one in a migration (CREATE UNIQUE INDEX ... ON {refresh.name} (...)), or set "
            "concurrently: false"
        )
    if refresh.concurrently and not populated:
        raise SupastackError(
            f"{where}: concurrently: true needs a populated view, and this one was created WITH "
            "NO DATA; refresh it once in a migration (REFRESH MATERIALIZED VIEW ...)"
        )


@dataclass(frozen=True)
class ViewStatus:
    """What smoke reports for a view."""

    name: str
    populated: bool
    refreshed_s_ago: float | None
    """Seconds since its job last refreshed it successfully; None if it has not yet."""


def status(conninfo: str, cron_conninfo: str, refresh: Refresh, job: str) -> ViewStatus:
    """Whether ``refresh``'s view is populated, and when its job last succeeded."""
    with connect(conninfo) as conn:
        row = conn.execute(
            "SELECT relispopulated FROM pg_class WHERE oid = to_regclass(%s) AND relkind = 'm'",
            [sql.Identifier(refresh.schema, refresh.view).as_string()],
        ).fetchone()
    with connect(cron_conninfo) as conn:
        age = conn.execute(
            "SELECT extract(epoch FROM now() - max(d.end_time)) FROM cron.job_run_details d "
            "JOIN cron.job j USING (jobid) WHERE j.jobname = %s AND d.status = 'succeeded'",
            [job],
        ).fetchone()
    return ViewStatus(
        refresh.name,
        bool(row and row[0]),
        float(age[0]) if age and age[0] is not None else None,
    )
