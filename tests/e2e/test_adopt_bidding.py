"""Adopting the bidding guide followed by hand (issue 32 §3), on a fresh local target: the
guide's state (its tables pasted in the SQL editor, realtime, its policies and pg_cron jobs with
the key in the command, the functions uploaded through the Management API, rows written), then
``supastack adopt --stack`` and the deploy: no function down at any moment (a client polls each
one throughout), no row lost (count and checksum of every table), smoke passes, and a second
deploy changes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import cast

import pytest
from click.testing import Result

from supastack.local.paths import PROJECT_DIR
from supastack.migrations.files import discover_app
from tests.conftest import Services
from tests.e2e.adopting import (
    Poller,
    adopt_and_deploy,
    deploy_by_hand,
    failed_smoke_and_second_changes,
    project,
    taken_over,
)
from tests.e2e.bidding.deployed import TABLES, insert_bid, new_session

#: The app's migration files whose tables the guide makes (the files added since are the
#: deploy's to run).
GUIDE_FILES = ("20260128000000_bidding_tables.sql", "20260129000000_bidding_no_disclosure.sql")
#: The guide's own SQL (bidding-deployment-guide.md: Realtime step 3; Security step 1; the
#: realtime policy; pg_cron step 3 with the service key read from a setting in the command).
GUIDE_SQL = """
create extension if not exists pg_cron;
alter publication supabase_realtime add table bidding_sessions, bids, bidding_participants;
create policy "Users can subscribe to their session updates" on bidding_sessions for select
  using (exists (select 1 from bidding_participants
                 where session_id = bidding_sessions.session_id and user_id = auth.uid()));
create policy "Users can only place bids in their sessions" on bids for insert
  with check (user_id = auth.uid() and exists (select 1 from bidding_participants
              where session_id = bids.session_id and user_id = auth.uid()));
create policy "Bids are immutable" on bids for update using (false);
select cron.schedule('cleanup-expired-bidding-sessions', '*/5 * * * *', $$
  select net.http_post(url := 'https://your-project.supabase.co/functions/v1/jobs/session-cleanup',
    headers := jsonb_build_object('Authorization',
                                  'Bearer ' || current_setting('app.settings.service_role_key')),
    body := '{}'::jsonb) as request_id $$);
select cron.schedule('archive-old-sessions', '0 2 * * *', $$ select 1 $$);
"""


def _by_hand(services: Services, root: Path) -> None:
    """What a team following the guide has: the tables (the app's migration files of the
    guide's time, pasted without a history), the guide's SQL, the functions deployed one by
    one, rows."""
    with services.connect() as conn:
        for name in GUIDE_FILES:
            conn.execute((root / "migrations" / "bidding" / name).read_text().encode())
        conn.execute(GUIDE_SQL.encode())
        users = [str(uuid.uuid4()) for _ in range(3)]
        for n in range(3):
            session = new_session(conn, users[0], users[1:], title=f"lot {n}")
            insert_bid(conn, session, users[1], 110 + n)
    deploy_by_hand(services, root, "bidding")


@pytest.fixture(scope="module")
def adopted(fresh: Services, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = project(tmp_path_factory.mktemp("adopt-bidding"), fresh, "bidding")
    _by_hand(fresh, root)
    tables = [f"public.{table}" for table in TABLES]
    return adopt_and_deploy(fresh, root, "bidding", accepts=1, tables=(tables, tables))


def test_adopt_shows_what_blocks_and_takes_over_once_accepted(adopted: dict[str, object]) -> None:
    report = adopted["report"]
    [accepted] = cast("list[Result]", adopted["accepted"])
    assert report.exit_code == 1, report.output  # type: ignore[attr-defined]
    out: str = report.output  # type: ignore[attr-defined]
    assert "migrations bidding: no history; its 2 file(s) are recorded as applied" in out
    later = [f"{f.version}_{f.name}" for f in discover_app(PROJECT_DIR / "migrations", "bidding")
             if f"{f.version}_{f.name}.sql" not in GUIDE_FILES]  # fmt: skip
    assert later, "the app has a file the guide's project lacks: the case this proves"
    assert f"the deploy runs the others ({', '.join(later)})" in " ".join(out.split())
    for name in ("Users can subscribe to their session updates", "Bids are immutable",
                 "Users can only place bids in their sessions"):  # fmt: skip
        assert f'DROP POLICY "{name}" ON "public".' in out
    assert "cron job 'cleanup-expired-bidding-sessions' differs from the declared one in " \
           "command" in out  # fmt: skip
    assert "service_role_key" not in out  # the guide's command is named, never shown
    for slug in ("submit-bid", "set-auto-bid"):  # uploaded by hand with the app's very code
        assert f"function {slug}: deployed with this code, taken over without a new deploy" in out
    assert "secrets the deploy creates: JOB_SECRET" in out  # the guide had none of its own
    assert accepted.exit_code == 0, accepted.output


def test_no_function_was_down_and_no_row_was_lost(adopted: dict[str, object]) -> None:
    poller = adopted["poller"]
    assert isinstance(poller, Poller)
    print(f"polled {poller.calls} calls during adopt and deploy")
    assert poller.calls > 0 and poller.failures == []
    assert adopted["after"] == adopted["before"]


def test_the_deploy_took_over_smoke_passes_and_a_second_deploy_changes_nothing(
    adopted: dict[str, object],
) -> None:
    assert failed_smoke_and_second_changes(adopted) == ([], {"unchanged"})
    # the schemas and extensions it had: `= import` in the preview, imported, none made again
    again, imported, previewed = taken_over(adopted)
    print(f"imported by the deploy: {', '.join(imported)}")
    assert (again, previewed) == ([], imported) and imported
    # the functions deployed by hand were this code: taken over, not deployed again
    assert adopted["versions_after"] == adopted["versions"]
    assert set(adopted["versions"].values()) == {1}  # type: ignore[attr-defined]
