"""Adopting the bidding guide followed by hand (issue 32 §3), on a fresh local target: the
guide's state (its tables pasted in the SQL editor, realtime, its policies and pg_cron jobs with
the key in the command, the functions uploaded through the Management API, rows written), then
``supastack adopt --stack`` and the deploy: no function down at any moment (a client polls each
one throughout), no row lost (count and checksum of every table), smoke passes, and a second
deploy changes nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from applier.engine import deploy, stack_config
from supastack.cli import app
from supastack.config.manifest import load_app
from supastack.delivery.outputs import StackOutputs
from supastack.delivery.smoke import run as smoke
from supastack.functions.packaging import package
from supastack.platform.management_api import ManagementApi
from tests.conftest import Services, copy_from_project
from tests.e2e.test_bidding import TABLES, _bid, _session

COPIED = ("__main__.py", "Pulumi.yaml", "apps/monitoring.yaml", "apps/bidding.yaml",
          "migrations/monitoring", "migrations/bidding", "functions/_shared", "functions/bidding",
          "functions/deno.json", "functions/deno.lock")  # fmt: skip
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


def _project(root: Path, services: Services) -> Path:
    copy_from_project(root, COPIED)
    (root / "Pulumi.adopt.yaml").write_text(
        "config:\n  supastack:target: local\n  supastack:apps: [bidding]\n  supastack:flags: {}\n"
        f"  supastack:local:\n    stateDir: {services.env.state_dir}\n"
        f"    dbPort: {services.env.db_port}\n    runtimePort: {services.env.runtime_port}\n"
        f"    redisPort: {services.env.redis_port}\n"
        "  supastack:database:\n    host: 127.0.0.1\n"
        f"    port: {services.env.db_port}\n    name: postgres\n    user: postgres\n"
        "    sslmode: disable\n"
    )
    return root


def _by_hand(services: Services, root: Path) -> None:
    """What a team following the guide has: the tables (the app's migration files, pasted
    without a history), the guide's SQL, the functions deployed one by one, rows."""
    with services.connect() as conn:
        for path in sorted((root / "migrations" / "bidding").glob("*.sql")):
            if not path.name.endswith(".down.sql"):
                conn.execute(path.read_text().encode())
        conn.execute(GUIDE_SQL.encode())
        users = [str(uuid.uuid4()) for _ in range(3)]
        for n in range(3):
            session = _session(conn, users[0], users[1:], title=f"lot {n}")
            _bid(conn, session, users[1], 110 + n)
    api = ManagementApi(services.runtime_url, services.credentials.access_token, "local")
    manifest = load_app(root, "bidding")
    for slug, spec in manifest.functions.items():  # `supabase functions deploy <slug>`
        api.deploy_function(
            package(root / "functions", "bidding", slug, spec.config(), spec.verify_jwt).upload()
        )


def _tables(services: Services) -> dict[str, tuple[object, ...]]:
    with services.connect() as conn:
        return {
            table: tuple(conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, ',' order by t::text), '')) "  # noqa: S608 (constant names)
                f"from public.{table} t"
            ).fetchone() or ())
            for table in TABLES
        }  # fmt: skip


class Poller:
    """Calls every function over and over until stopped; a failure is an answer of 404 or
    5xx, or no answer (an unauthenticated call answered 401 is a function that is up)."""

    def __init__(self, url: str, slugs: list[str]) -> None:
        self.url, self.slugs = url, slugs
        self.calls, self.failures = 0, list[str]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                for slug in self.slugs:
                    try:
                        status = client.post(f"{self.url}/functions/v1/{slug}", json={}).status_code
                    except httpx.HTTPError as error:
                        self.failures.append(f"{slug}: {type(error).__name__}")
                        continue
                    self.calls += 1
                    if status == 404 or status >= 500:
                        self.failures.append(f"{slug}: {status}")

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def adopted(
    fresh: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, object]]:
    root = _project(tmp_path_factory.mktemp("adopt-bidding"), fresh)
    _by_hand(fresh, root)
    before = _tables(fresh)
    slugs = list(load_app(root, "bidding").functions)
    api = ManagementApi(fresh.runtime_url, fresh.credentials.access_token, "local")
    versions = {slug: (api.get_function(slug) or {}).get("version") for slug in slugs}
    runner = CliRunner()
    with Poller(fresh.runtime_url, slugs) as poller:
        report = runner.invoke(app, ["--cwd", str(root), "adopt", "--stack", "adopt"])
        accepted = runner.invoke(app, ["--cwd", str(root), "adopt", "--stack", "adopt", "--accept"])
        config = stack_config("Pulumi.adopt.yaml", {}, root)
        first = deploy(config, project=root)
    second = deploy(config, project=root, previous=first.mocks.records())
    yield {
        "report": report, "accepted": accepted, "first": first, "second": second,
        "poller": poller, "before": before, "after": _tables(fresh), "versions": versions,
        "versions_after": {slug: (api.get_function(slug) or {}).get("version") for slug in slugs},
    }  # fmt: skip


def test_adopt_shows_what_blocks_and_takes_over_once_accepted(adopted: dict[str, object]) -> None:
    report, accepted = adopted["report"], adopted["accepted"]
    assert report.exit_code == 1, report.output  # type: ignore[attr-defined]
    out: str = report.output  # type: ignore[attr-defined]
    assert "migrations bidding: no history; its 2 file(s) are recorded as applied" in out
    for name in ("Users can subscribe to their session updates", "Bids are immutable",
                 "Users can only place bids in their sessions"):  # fmt: skip
        assert f'DROP POLICY "{name}" ON "public".' in out
    assert "cron job 'cleanup-expired-bidding-sessions' differs from the declared one in " \
           "command" in out  # fmt: skip
    assert "service_role_key" not in out  # the guide's command is named, never shown
    for slug in ("submit-bid", "set-auto-bid"):  # uploaded by hand with the app's very code
        assert f"function {slug}: deployed with this code, taken over without a new deploy" in out
    assert "secrets the deploy creates: JOB_SECRET" in out  # the guide had none of its own
    assert accepted.exit_code == 0, accepted.output  # type: ignore[attr-defined]


def test_no_function_was_down_and_no_row_was_lost(adopted: dict[str, object]) -> None:
    poller = adopted["poller"]
    assert isinstance(poller, Poller)
    print(f"polled {poller.calls} calls during adopt and deploy")
    assert poller.calls > 0 and poller.failures == []
    assert adopted["after"] == adopted["before"]


def test_the_deploy_took_over_smoke_passes_and_a_second_deploy_changes_nothing(
    adopted: dict[str, object],
) -> None:
    first, second = adopted["first"], adopted["second"]
    outputs = StackOutputs.model_validate(first.outputs)  # type: ignore[attr-defined]
    failed = [f"{c.name}: {c.detail}" for c in smoke(outputs) if not c.ok]
    assert failed == []
    actions = [action for action, _ in second.mocks.actions]  # type: ignore[attr-defined]
    assert set(actions) == {"unchanged"}
    # the functions deployed by hand were this code: taken over, not deployed again
    assert adopted["versions_after"] == adopted["versions"]
    assert set(adopted["versions"].values()) == {1}  # type: ignore[attr-defined]
