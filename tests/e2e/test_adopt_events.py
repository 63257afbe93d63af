"""Adopting the events guide followed by hand (issue 32 §3), on a fresh local target. The guide
keeps its tables in ``public`` (its migration files, pasted in the SQL editor: the app's first
three, written for ``public``), partitions them with pg_partman, opens the events to everyone
with a policy of its own, schedules its cron jobs with the secret in the command, sets its
secrets and deploys its functions; rows are written. The app keeps them in a schema of its own
(``events``), so adopt shows the migration that moves them, rows and all, and then what differs;
once both are accepted, the deploy takes over: no function down at any moment, no row lost
(count and checksum of every table, in its new schema), what still reads the old names
answers as before through the views left there, smoke passes and a second deploy changes
nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from click.testing import Result
from psycopg import sql

from supastack.local.paths import PROJECT_DIR
from supastack.migrations.files import discover_app
from tests.conftest import Services
from tests.e2e.adopting import (
    Poller,
    adopt_and_deploy,
    api,
    deploy_by_hand,
    failed_smoke_and_second_changes,
    project,
    taken_over,
)
from tests.e2e.conftest import As

#: The guide's files (its steps 1-3), as the app has them, in ``public``.
GUIDE_FILES = ("20260401000000_events_model", "20260401000100_booking_rpcs",
               "20260401000200_read_models")  # fmt: skip
TABLES = ("organizations", "org_members", "locations", "instructors", "class_series",
          "class_events", "registrations", "event_waitlists", "stripe_events",
          "performance_metrics", "health_checks", "class_instances", "class_registrations",
          "waitlists")  # fmt: skip
#: The secret the guide's jobs send (its CRON_SECRET, also a database setting they read).
CRON_SECRET = uuid.uuid4().hex
GUIDE_SQL = """
create policy "Anyone can view events" on public.class_events for select using (true);
select cron.schedule('events_generate_daily', '0 2 * * *', $$
  select net.http_post(url := 'https://your-project.supabase.co/functions/v1/events-generate',
    headers := jsonb_build_object('Authorization',
                                  'Bearer ' || current_setting('app.settings.cron_secret'))) $$);
select cron.schedule('waitlist_promote_minute', '* * * * *', $$ select 1 $$);
"""


def _in_public(sql: str) -> str:
    return re.sub(r"\bevents\.(?=[a-z_])", "public.", sql).replace(
        "in schema events", "in schema public"
    )


def _by_hand(services: Services, root: Path) -> None:
    with services.connect() as conn:
        conn.execute(
            'create extension if not exists "uuid-ossp" with schema extensions; '
            "create extension if not exists pgcrypto with schema extensions; "
            "create extension if not exists ltree with schema extensions; "
            "create extension if not exists pg_cron; create schema if not exists partman; "
            "create extension if not exists pg_partman with schema partman"
        )
        for name in GUIDE_FILES:
            conn.execute(_in_public((root / f"migrations/events/{name}.sql").read_text()).encode())
        conn.execute(
            "select partman.create_parent(p_parent_table := 'public.class_events', "
            "p_control := 'starts_at', p_type := 'native', p_interval := '1 month', "
            "p_premake := 5)"
        )
        # the setting the guide's daily job reads, as the guide has it set: unset, the job
        # failed when it came due (02:00 UTC) while the module ran, and smoke reported it.
        # A secret: the statement is kept out of pg_stat_statements.
        with conn.transaction():
            conn.execute("set local pg_stat_statements.track_utility = off")
            conn.execute(
                sql.SQL("alter database {} set app.settings.cron_secret = {}").format(
                    sql.Identifier(conn.info.dbname), sql.Literal(CRON_SECRET)
                )
            )
        conn.execute(GUIDE_SQL.encode())
        org = conn.execute(
            "insert into public.organizations (slug, name, path) values ('studio', 'Studio', "
            "'studio') returning id"
        ).fetchone()
        assert org is not None
        for n in range(3):
            event = conn.execute(
                "insert into public.class_events (org_id, title, starts_at, ends_at, capacity) "
                "values (%s, %s, now() + make_interval(days => %s), "
                "now() + make_interval(days => %s, hours => 1), 5) returning id",
                [org[0], f"class {n}", 3 + 20 * n, 3 + 20 * n],
            ).fetchone()
            assert event is not None
            for _ in range(2):  # as the book function calls it
                conn.execute(
                    "select * from public.book(%s, %s, %s, 'none')",
                    [event[0], str(uuid.uuid4()), uuid.uuid4().hex],
                )
    api(services).upsert_secrets({  # `supabase secrets set`, the guide's names
        "STRIPE_SECRET_KEY": f"sk_test_{uuid.uuid4().hex}",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{uuid.uuid4().hex}",
        "CRON_SECRET": CRON_SECRET, "ESP_API_KEY": uuid.uuid4().hex,
    })  # fmt: skip
    deploy_by_hand(services, root, "events")


@pytest.fixture(scope="module")
def adopted(
    fresh: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, object]]:
    root = project(tmp_path_factory.mktemp("adopt-events"), fresh, "events")
    _by_hand(fresh, root)

    def after_deploy(report: str) -> dict[str, object]:
        read = _old_names(fresh)
        # the functions are the app's now: what the report said removes the guide's leftovers
        with fresh.connect() as conn:
            conn.execute(_contract(report).encode())
        return {"old_names": read}

    tables = ([f"public.{t}" for t in TABLES], [f"events.{t}" for t in TABLES])
    outcome = adopt_and_deploy(
        fresh, root, "events", accepts=2, tables=tables, after_deploy=after_deploy
    )
    yield outcome


def _contract(report: str) -> str:
    marker = "-- once nothing reads the old names (the functions redeployed): "
    return next(line for line in report.splitlines() if line.startswith(marker))[len(marker) :]


def _old_names(services: Services) -> dict[str, object]:
    """``public.registrations`` (where a function deployed by hand still reads) as a customer,
    a stranger and the service role, right after the deploy."""
    with services.connect() as conn:
        row = conn.execute("select customer_id::text from events.registrations limit 1").fetchone()
    assert row is not None
    count = "select count(*) from public.registrations"
    return {
        "customer": As(services, "authenticated", str(row[0])).run(count),
        "stranger": As(services, "authenticated", str(uuid.uuid4())).run(count),
        "service": As(services, "service_role").run(count),
        "anon": As(services, "anon").run(count),
    }


def _out(result: object) -> str:
    return str(result.output)  # type: ignore[attr-defined]


def test_adopt_shows_the_move_then_what_differs(adopted: dict[str, object]) -> None:
    report = adopted["report"]
    moved, accepted = cast("list[Result]", adopted["accepted"])
    assert report.exit_code == 1, _out(report)  # type: ignore[attr-defined]
    shown = _out(report)
    assert "its tables organizations, org_members," in shown
    assert 'ALTER TABLE "public"."class_events" SET SCHEMA "events";' in shown
    assert re.search(r'ALTER TABLE "public"\."class_events_p\d{4}_\d{2}" SET SCHEMA', shown)
    assert "UPDATE partman.part_config SET parent_table = 'events.class_events'" in shown
    assert 'DROP VIEW "public"."registrations";' in shown  # once nothing reads the old names
    assert "cron_secret" not in shown  # the guide's command is named, never shown
    assert moved.exit_code == 1, _out(moved)
    after_move = _out(moved).partition("-- moved; the project read again:")[2]
    files = len(discover_app(PROJECT_DIR / "migrations", "events"))  # the guide made 3
    assert f"closest to its first 3 of {files} migration files" in after_move
    assert 'DROP POLICY "Anyone can view events" ON "events"."class_events"' in after_move
    assert "SET SCHEMA" not in after_move  # moved once
    assert accepted.exit_code == 0, _out(accepted)
    assert "view public.registrations stays from the move of app events" in _out(accepted)


def test_no_function_was_down_and_no_row_was_lost(adopted: dict[str, object]) -> None:
    poller = adopted["poller"]
    assert isinstance(poller, Poller)
    print(f"polled {poller.calls} calls during adopt and deploy")
    assert poller.calls > 0 and poller.failures == []
    before = adopted["before"]
    assert isinstance(before, dict) and before["registrations"][0] == 6
    assert adopted["after"] == before


def test_the_old_names_answer_under_the_tables_rls_until_removed(
    adopted: dict[str, object], fresh: Services
) -> None:
    """What still reads ``public.registrations`` (a function deployed by hand) reads the moved
    table: a customer sees only their own rows, as the table's policy says, anon nothing (the
    guide had granted it every table; the stack grants it none of registrations). Once the
    report's statements ran, the old names and the guide's functions are gone."""
    assert adopted["old_names"] == {
        "customer": [(1,)], "stranger": [(0,)], "service": [(6,)], "anon": "42501",
    }  # fmt: skip
    with fresh.connect() as conn:
        left = conn.execute(
            "select count(*) from pg_class where relnamespace = 'public'::regnamespace and "
            "relname in ('registrations', 'class_events', 'event_search_mv')"
        ).fetchone()
        functions = conn.execute("select to_regproc('public.is_org_staff')").fetchone()
    assert left == (0,) and functions == (None,)


def test_the_deploy_took_over_smoke_passes_and_a_second_deploy_changes_nothing(
    adopted: dict[str, object], fresh: Services
) -> None:
    assert failed_smoke_and_second_changes(adopted) == ([], {"unchanged"})
    # the schemas and extensions it had: `= import` in the preview, imported, none made again
    again, imported, previewed = taken_over(adopted)
    print(f"imported by the deploy: {', '.join(imported)}")
    assert (again, previewed) == ([], imported) and imported
    with fresh.connect() as conn:
        applied = conn.execute(
            "select count(*) from supabase_migrations.schema_migrations "
            "where version in ('20260401000300', '20261204000100')"
        ).fetchone()
        partman = conn.execute(
            "select parent_table from partman.part_config where parent_table ~ 'class_events$'"
        ).fetchall()
    assert applied == (2,)  # the files past the guide's, run by the deploy
    assert partman == [("events.class_events",)]
