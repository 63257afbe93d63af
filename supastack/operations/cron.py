"""pg_cron jobs: schedules checked before anything is applied, commands rendered, jobs managed.

Schedules follow pg_cron: five Vixie-cron fields (numbers, names, ranges, steps, lists),
``@hourly``-style macros, and, from pg_cron 1.5, ``$`` (last day of the month) and
``N seconds``. The target's pg_cron version decides: Supabase runs 1.6, Debian's
``postgresql-15-cron`` 1.4.2, so a seconds schedule is refused on ``local`` here, naming the job,
rather than failing inside Postgres.

A job that calls a function renders ``net.http_post`` whose URL and bearer token are read from
Vault at run time: no URL or key is ever written into the job's SQL.

Jobs are scheduled by name with ``cron.schedule_in_database`` (an upsert by name), so the app's
database may differ from ``cron.database_name``; ``active`` is then set as declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import psycopg
from psycopg import sql

from supastack.config.manifest import AppManifest
from supastack.database import sqltext
from supastack.database.postgres import Connection, connect, lock_until_commit
from supastack.errors import SupastackError

#: The Vault secret holding the functions' base URL (``https://<ref>.supabase.co`` or local).
FUNCTIONS_URL_SECRET = "supastack_functions_url"  # noqa: S105 (a name, not a value)

_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_SECONDS = re.compile(r"^([1-9]|[1-5][0-9]) seconds?$")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
#: (name, low, high, names) for the five fields.
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


def _version(text: str) -> tuple[int, int]:
    major, minor = [*re.findall(r"\d+", text), "0", "0"][:2]
    return int(major), int(minor)


def _value(token: str, low: int, high: int, names: list[str]) -> int:
    if token.lower() in names:
        return names.index(token.lower()) + (1 if names is _MONTHS else 0)
    if not token.isdigit() or not low <= int(token) <= high:
        raise ValueError(f"{token!r} is not in {low}-{high}")
    return int(token)


def _check_field(text: str, name: str, low: int, high: int, names: list[str]) -> None:
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"{name}: step {step!r} is not a positive number")
        if base == "*":
            continue
        first, _, last = base.partition("-")
        start = _value(first, low, high, names)
        if last and _value(last, low, high, names) < start:
            raise ValueError(f"{name}: range {base!r} runs backwards")
        if step and not last:
            raise ValueError(f"{name}: a step needs * or a range, not {base!r}")


def validate_schedule(schedule: str, pg_cron: str, job: str) -> str:
    """Return ``schedule`` if the target's pg_cron accepts it; else name the job and why."""
    text = " ".join(schedule.split())
    modern = _version(pg_cron) >= (1, 5)
    where = f"cron job {job!r}: schedule {schedule!r}"
    if _SECONDS.match(text):
        if not modern:
            raise SupastackError(
                f"{where}: second-level schedules need pg_cron 1.5 or later; this target runs "
                f"pg_cron {pg_cron} (the local target's Debian package), use a five-field "
                "schedule such as '* * * * *' (every minute)"
            )
        return text
    if text in _MACROS:
        return text
    fields = text.split(" ")
    if len(fields) != len(_FIELDS):
        raise SupastackError(
            f"{where}: expected five fields (minute hour day-of-month month day-of-week), "
            "a macro such as @daily, or 'N seconds'"
        )
    for field_text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        if name == "day of month" and field_text == "$":
            if not modern:
                raise SupastackError(
                    f"{where}: '$' (last day of the month) needs pg_cron 1.5 or later; this "
                    f"target runs pg_cron {pg_cron}"
                )
            continue
        try:
            _check_field(field_text, name, low, high, names)
        except ValueError as exc:
            raise SupastackError(f"{where}: {name}: {exc}") from None
    return text


def _vault_read(secret: str) -> sql.Composable:
    return sql.SQL("(SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = {})").format(
        sql.Literal(secret)
    )


def function_call(slug: str, body: Mapping[str, object], token_secret: str) -> str:
    """The SQL a job runs to call function ``slug``: URL and token come from Vault at run time."""
    return (
        sql.SQL(
            "SELECT net.http_post(url := {url} || {path}, headers := jsonb_build_object("
            "'Content-Type', 'application/json', 'Authorization', 'Bearer ' || {token}), "
            "body := {body}::jsonb, timeout_milliseconds := 10000)"
        )
        .format(
            url=_vault_read(FUNCTIONS_URL_SECRET),
            path=sql.Literal(f"/functions/v1/{slug}"),
            token=_vault_read(token_secret),
            body=sql.Literal(json.dumps(body, sort_keys=True)),
        )
        .as_string()
    )


@dataclass(frozen=True)
class Job:
    """A job as declared, or as ``cron.job`` holds it."""

    name: str
    schedule: str
    command: str
    database: str
    active: bool = True


def _lock_job(conn: Connection, name: str) -> None:
    """Serialise changes to one job by name until the transaction ends: pg_cron's own functions
    fail with "tuple concurrently deleted/updated" when two sessions change one job at once
    (two deploys, or a deploy and a rollback)."""
    lock_until_commit(conn, f"supastack.cron:{name}")


def schedule(conninfo: str, job: Job) -> int:
    """Create or update the job by name (in the cron database); return its id."""
    with connect(conninfo, subject=f"cron job {job.name!r}") as conn:
        try:
            with conn.transaction():
                _lock_job(conn, job.name)
                row = conn.execute(
                    "SELECT cron.schedule_in_database(%s, %s, %s, %s)",
                    [job.name, job.schedule, job.command, job.database],
                ).fetchone()
                assert row is not None
                conn.execute("SELECT cron.alter_job(%s, active := %s)", [row[0], job.active])
        except psycopg.Error as exc:
            raise SupastackError(f"cron job {job.name!r}: {exc.diag.message_primary}") from None
    return int(row[0])


def unschedule(conninfo: str, name: str) -> None:
    """Remove the job if it exists: a job already gone, or removed by another session at the
    same time, is success (``cron.unschedule(name)`` fails on a missing one)."""
    with connect(conninfo, subject=f"cron job {name!r}") as conn, conn.transaction():
        _lock_job(conn, name)
        conn.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s", [name])


_JOBS = "SELECT jobname, schedule, command, database, active FROM cron.job"


def read(conninfo: str, name: str) -> Job | None:
    with connect(conninfo) as conn:
        row = conn.execute(f"{_JOBS} WHERE jobname = %s", [name]).fetchone()
    return None if row is None else Job(*row)


def read_all(conninfo: str) -> list[Job]:
    """Every job, by name (none where pg_cron is not installed)."""
    with connect(conninfo) as conn:
        if conn.execute("SELECT to_regclass('cron.job')").fetchone() in (None, (None,)):
            return []
        return [Job(*row) for row in conn.execute(f"{_JOBS} ORDER BY jobname")]


def differing_fields(declared: Job, live: Job) -> list[str]:
    """The properties in which the live job is not the declared one (names, never values: a
    command can hold a token)."""
    return [name for name, value in asdict(declared).items() if getattr(live, name) != value]


def refuse_to_adopt_a_different_job(conninfo: str, job: Job) -> None:
    """Adoption (``supastack:adopt``): a job of this name made by hand is taken over only if it
    is the declared one (the upsert then changes nothing and keeps its id); else an error naming
    each differing property (not its values: a command can hold a token), nothing changed."""
    live = read(conninfo, job.name)
    if live is None:
        return
    differ = differing_fields(job, live)
    if differ:
        raise SupastackError(
            f"cannot adopt pg_cron job {job.name!r}: it exists and differs from the program in "
            f"{', '.join(differ)}; make them equal (in the program or the live job) to adopt it, "
            "or deploy without adopt to overwrite it"
        )


def plan_jobs(manifest: AppManifest, pg_cron: str, database: str) -> list[Job]:
    """The app's jobs with checked schedules and rendered commands (SQL jobs are parsed, so a
    typo fails the preview before anything is applied)."""
    jobs = []
    for spec in manifest.cron:
        schedule_text = validate_schedule(spec.schedule, pg_cron, spec.name)
        if spec.function is not None:
            target = spec.function
            command = function_call(target.slug, target.body, target.token_secret)
        else:
            assert spec.sql is not None
            sqltext.split(spec.sql, f"{manifest.source}: cron job {spec.name!r}")
            command = spec.sql
        jobs.append(Job(spec.name, schedule_text, command, database, spec.active))
    return jobs
