"""Smoke tests of a deployed stack, driven by its outputs (``supastack.delivery.outputs``).

Each check is small and independent and reports a line: the database answers; every declared
migration is recorded with its checksum; RLS is on for every declared table and enforced (anon
sees no rows, two fresh users see none, the service role can read); every function answers and
refuses a missing JWT when ``verify_jwt``; cron jobs are active with their schedules; each
scheduled materialized view is populated (with the age of its last refresh); alert
rules and channels exist; feature flags are as the stack sets them; function secrets and log
drains exist by name; the database advisors (``supastack.database.advisors``) find no ERROR
or WARN; then each app's ``verify:`` checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import psycopg
from psycopg import sql

from supastack.database import advisors, matviews, vault
from supastack.database.declared import Declared
from supastack.database.matviews import Refresh
from supastack.delivery import verify
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.verify import act_as
from supastack.errors import SupastackError
from supastack.platform.management_api import ManagementApi

HTTP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise SupastackError(f"cannot connect to the database: {exc}") from None


def _as_role(
    conn: psycopg.Connection[tuple[object, ...]], role: str, table: str, user: str | None = None
) -> int | str:
    """Rows of ``table`` visible to ``role`` (with a fresh user's claims), or the SQLSTATE."""
    schema, name = table.split(".", 1)
    try:
        with conn.transaction(force_rollback=True):
            act_as(conn, role, user)
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            ).fetchone()
            return int(row[0]) if row else 0  # type: ignore[call-overload]
    except psycopg.Error as exc:
        return str(exc.sqlstate)


def _database(out: StackOutputs) -> Iterator[Check]:
    with _connect(out.database_url) as conn:
        conn.execute("SELECT 1")
    yield Check("database answers", True)
    with _connect(out.database_url) as conn:
        rows = conn.execute(
            "SELECT version, checksum FROM supabase_migrations.schema_migrations"
        ).fetchall()
        recorded = {str(v): c for v, c in rows}
        for app, migrations in out.migrations.items():
            for m in migrations:
                found = recorded.get(m.version)
                yield Check(
                    f"migration {app}/{m.version}_{m.name} recorded",
                    found == m.checksum,
                    "" if found == m.checksum else f"recorded checksum {found!r}",
                )
        for app, tables in out.rls_tables.items():
            public = set(out.public_tables.get(app, ()))
            for table in tables:
                yield from _rls(conn, app, table, public=table in public)


def _rls(
    conn: psycopg.Connection[tuple[object, ...]], app: str, table: str, *, public: bool
) -> Iterator[Check]:
    """RLS is on and the service reads the table; unless a policy opens the table to everyone
    (``public``), anon and two fresh users read no rows of it."""
    schema, name = table.split(".", 1)
    row = conn.execute(
        "SELECT c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        [schema, name],
    ).fetchone()
    yield Check(f"{app}: RLS enabled on {table}", row == (True,), "" if row else "no such table")
    if not public:
        yield from _no_rows_for_strangers(conn, app, table)
    service = _as_role(conn, "service_role", table)
    yield Check(
        f"{app}: the service role reads {table}", isinstance(service, int), f"got {service}"
    )


def _no_rows_for_strangers(
    conn: psycopg.Connection[tuple[object, ...]], app: str, table: str
) -> Iterator[Check]:
    anon = _as_role(conn, "anon", table)
    yield Check(f"{app}: anon reads no rows of {table}", anon in (0, "42501"), f"got {anon}")
    first, second = (_as_role(conn, "authenticated", table, str(uuid.uuid4())) for _ in range(2))
    yield Check(
        f"{app}: two fresh users read no rows of {table}",
        first in (0, "42501") and second in (0, "42501"),
        f"got {first}, {second}",
    )


def _functions(out: StackOutputs) -> Iterator[Check]:
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        for slug, fn in sorted(out.functions.items()):
            bare = client.post(fn.url, json={})
            if fn.verify_jwt:
                yield Check(
                    f"function {slug} refuses a missing JWT",
                    bare.status_code == 401,
                    f"HTTP {bare.status_code}",
                )
            # with the anon key (a valid JWT, no rights): the function itself answers, and
            # refuses, without doing anything
            anon = out.publishable_key or out.anon_key
            headers = {"Authorization": f"Bearer {anon}"} if anon else {}
            answered = client.post(fn.url, json={}, headers=headers)
            yield Check(
                f"function {slug} answers",
                answered.status_code < 500,
                f"HTTP {answered.status_code}",
            )


def _operations(out: StackOutputs) -> Iterator[Check]:
    cron_url = psycopg.conninfo.make_conninfo(out.database_url, dbname=out.cron_database)
    with _connect(cron_url) as conn:
        jobs = {
            str(name): (str(schedule), bool(active))
            for name, schedule, active in conn.execute(
                "SELECT jobname, schedule, active FROM cron.job"
            ).fetchall()
        }
    for job in out.cron_jobs:
        live = jobs.get(job.name)
        yield Check(
            f"cron job {job.name} active on {job.schedule!r}",
            live == (job.schedule, job.active),
            f"cron.job has {live}",
        )
    for view in out.materialized_views:
        state = matviews.status(
            out.database_url, cron_url, Refresh(view.schema_, view.view), view.job
        )
        age = state.refreshed_s_ago
        yield Check(
            f"materialized view {state.name} populated",
            state.populated,
            "not refreshed by its job yet" if age is None else f"last refreshed {age:.0f} s ago",
        )
    with _connect(out.database_url) as conn:
        rules = {str(r[0]) for r in conn.execute("SELECT name FROM monitoring.alert_rules")}
        channels = {str(r[0]) for r in conn.execute("SELECT name FROM monitoring.alert_channels")}
        flags = {
            str(name): (bool(enabled), float(str(percentage)))
            for name, enabled, percentage in conn.execute(
                "SELECT name, enabled, percentage FROM monitoring.feature_flags"
            ).fetchall()
        }
    for rule in out.alert_rules:
        yield Check(f"alert rule {rule.name} exists", rule.name in rules)
    for channel in out.alert_channels:
        yield Check(f"alert channel {channel} exists", channel in channels)
    for flag in out.flags:
        found = flags.get(flag.name)
        yield Check(
            f"flag {flag.name} {'on at' if flag.enabled else 'off,'} {flag.percentage:g} %",
            found == (flag.enabled, flag.percentage),
            "no such flag" if found is None else f"enabled {found[0]}, {found[1]:g} %",
        )
    api = out.management_api
    names = set(ManagementApi(api.url, api.token, api.project_ref).secret_digests())
    for name in out.secrets:
        yield Check(f"function secret {name} exists", name in names)
    for drain in out.log_drains:
        yield Check(f"log drain {drain} configured", "SUPASTACK_LOG_DRAINS" in names)


def _advisors(out: StackOutputs) -> Iterator[Check]:
    """Supabase's database checks (``supastack db advisors``), with supastack's of what the
    stack declares (no policy on its tables it does not declare, its extensions where it
    declares them): a clean stack has no ERROR and no WARN finding (but those only the
    database's owner can resolve)."""
    declared = None if out.declared is None else Declared.of_output(out.declared)
    advised = advisors.advise(out.database_url, declared=declared)
    findings = [f for f in advised if f.name not in advisors.NEEDS_THE_OWNER]
    for level in (advisors.Level.ERROR, advisors.Level.WARN):
        found = [f"{f.name}: {f.object}" for f in findings if f.level is level]
        yield Check(f"database advisors: no {level} findings", not found, "; ".join(found))


def _verify(out: StackOutputs) -> Iterator[Check]:
    """Each app's own checks (its manifest's ``verify:``), after the generic ones."""
    if not out.verify:
        return
    callers = {probe.caller for spec in out.verify.values() for probe in spec.http}
    credentials = {
        "anon": out.publishable_key or out.anon_key,
        "service": out.secret_key or out.service_role_key,
        "user": verify.user_token(signing_key=out.jwt_signing_key, jwt_secret=out.jwt_secret),
        # the job secret the scheduled jobs send, from Vault, where the stack keeps it
        "job": vault.read_secret(out.database_url, "JOB_SECRET") if "job" in callers else None,
    }
    today = verify.stack_today(out.database_url)
    for app, spec in sorted(out.verify.items()):
        results = [
            *verify.run_sql(out.database_url, spec.sql),
            *verify.run_http(out.functions_url, spec.http, credentials, today),
        ]
        for name, ok, detail in results:
            yield Check(f"{app} verify: {name}", ok, detail)


CHECKS: tuple[Callable[[StackOutputs], Iterator[Check]], ...] = (
    _database, _functions, _operations, _advisors, _verify,
)  # fmt: skip


def run(out: StackOutputs) -> list[Check]:
    """Every check; one that cannot run at all is itself a failed check, not a crash."""
    results: list[Check] = []
    for group in CHECKS:
        try:
            results.extend(group(out))
        except (SupastackError, psycopg.Error, httpx.HTTPError) as exc:
            results.append(Check(f"{group.__name__.strip('_')} checks", False, str(exc)))
    return results


def table(results: list[Check]) -> str:
    width = max((len(r.name) for r in results), default=10)
    lines = [
        f"{'ok' if r.ok else 'FAIL':<5}{r.name:<{width}}  {r.detail if not r.ok else ''}".rstrip()
        for r in results
    ]
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)


def write_junit(results: list[Check], path: Path, stack: str) -> None:
    suite = ET.Element(
        "testsuite",
        name=f"supastack smoke ({stack})",
        tests=str(len(results)),
        failures=str(sum(not r.ok for r in results)),
    )
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"smoke.{stack}", name=result.name)
        if not result.ok:
            ET.SubElement(case, "failure", message=result.detail or "failed")
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)
