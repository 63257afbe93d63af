"""CronJob against the cluster's real pg_cron: scheduling by name, drift, an HTTP call carrying
the Vault-held token, and one job that pg_cron itself runs."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

from components.providers.operations.cron import CronJobProvider
from supastack.database import vault
from supastack.database.postgres import connect
from supastack.errors import SupastackError
from supastack.operations import cron
from tests.conftest import RecordingServer, Services, outs
from tests.core.conftest import Database

TOKEN_SECRET = "CRON_TEST_TOKEN"


@pytest.fixture
def endpoint(services: Services, http_endpoint: RecordingServer) -> tuple[RecordingServer, str]:
    """A local test endpoint standing in for the functions' base URL, and the job token."""
    token = secrets.token_urlsafe(24)
    vault.put_secret(services.dsn(), cron.FUNCTIONS_URL_SECRET, http_endpoint.url)
    vault.put_secret(services.dsn(), TOKEN_SECRET, token)
    return http_endpoint, token


def _props(conninfo: str, **values: Any) -> dict[str, Any]:
    return {
        "conninfo": conninfo,
        "name": "test-job",
        "schedule": "*/5 * * * *",
        "command": "select 1",
        "database": "postgres",
        "active": True,
        **values,
    }


def _job(services: Services, name: str) -> tuple[Any, ...] | None:
    with services.connect() as conn:
        return conn.execute(
            "select schedule, command, database, active from cron.job where jobname = %s", [name]
        ).fetchone()


def test_schedule_by_name_in_another_database_drift_and_delete(
    services: Services, cron_db: str, database: Database
) -> None:
    provider = CronJobProvider()
    props = _props(cron_db, database=database.name, command="insert into ticks values (1)")
    created = provider.create(props)
    assert _job(services, "test-job") == (
        "*/5 * * * *",
        "insert into ticks values (1)",
        database.name,
        True,
    )
    again = provider.create(props)  # upsert by name: still one job
    assert outs(again)["job_id"] == outs(created)["job_id"]

    with services.connect() as conn:
        conn.execute(
            "select cron.alter_job(%s, schedule := '0 3 * * *', active := false)",
            [outs(created)["job_id"]],
        )
    read = provider.read("test-job", outs(created))
    assert (outs(read)["schedule"], outs(read)["active"]) == ("0 3 * * *", False)
    assert provider.diff("test-job", outs(read), props).changes
    provider.update("test-job", outs(read), props)
    assert _job(services, "test-job")[::3] == ("*/5 * * * *", True)  # type: ignore[index]

    provider.delete("test-job", props)
    assert _job(services, "test-job") is None
    provider.delete("test-job", props)  # absent: no error (cron.unschedule(name) would raise)
    assert provider.read("test-job", props).id == ""


def test_an_inactive_job_stays_inactive(services: Services, cron_db: str) -> None:
    provider = CronJobProvider()
    provider.create(_props(cron_db, name="test-paused", active=False))
    provider.create(_props(cron_db, name="test-paused", active=False, schedule="0 1 * * *"))
    assert _job(services, "test-paused")[::3] == ("0 1 * * *", False)  # type: ignore[index]


def test_a_job_calling_a_function_reaches_it_with_the_vault_token(
    services: Services, cron_db: str, endpoint: tuple[RecordingServer, str]
) -> None:
    server, token = endpoint
    command = cron.function_call("session-cleanup", {"batch": 50}, TOKEN_SECRET)
    assert token not in command and server.url not in command
    with services.connect() as conn:
        conn.execute(command.encode())  # what the job runs (the local net.http_post is synchronous)
    request = server.wait_for(1)[0]
    assert (request.method, request.path) == ("POST", "/functions/v1/session-cleanup")
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert request.json() == {"batch": 50}


def test_pg_cron_runs_a_scheduled_job(
    services: Services, cron_db: str, endpoint: tuple[RecordingServer, str]
) -> None:
    """Debian's pg_cron 1.4.2 schedules by the minute: this waits for the next one."""
    server, token = endpoint
    command = cron.function_call("tick", {"from": "pg_cron"}, TOKEN_SECRET)
    CronJobProvider().create(
        _props(cron_db, name="test-every-minute", schedule="* * * * *", command=command)
    )
    request = server.wait_for(1, timeout=90)[0]
    assert (
        request.path == "/functions/v1/tick"
        and request.headers["Authorization"] == f"Bearer {token}"
    )
    with services.connect() as conn:
        status = conn.execute(
            "select d.status from cron.job_run_details d join cron.job j using (jobid) "
            "where j.jobname = 'test-every-minute' order by d.start_time desc limit 1"
        ).fetchone()
    assert status in (("succeeded",), ("running",))


def test_a_job_in_a_missing_database_is_refused_naming_it(services: Services, cron_db: str) -> None:
    with pytest.raises(
        SupastackError, match=r"cron job 'test-nowhere': cannot connect.*no_such_db"
    ):
        CronJobProvider().create(
            _props(make_conninfo(cron_db, dbname="no_such_db"), name="test-nowhere")
        )


def test_concurrent_deletes_of_one_job_all_succeed(services: Services, cron_db: str) -> None:
    """Two deploys (or a deploy and a rollback) removing the same job at once: pg_cron alone
    fails one of them with "tuple concurrently deleted"; a job already gone is success."""
    for round_ in range(5):
        name = f"test-race-{round_}"
        cron.schedule(cron_db, cron.Job(name, "*/5 * * * *", "select 1", "postgres"))
        start = threading.Barrier(8)
        with ThreadPoolExecutor(8) as pool:
            deletes = [pool.submit(_delete_at, start, cron_db, name) for _ in range(8)]
            for future in deletes:
                future.result()  # raises what a delete raised
        assert _job(services, name) is None


def _delete_at(start: threading.Barrier, conninfo: str, name: str) -> None:
    start.wait(timeout=30)
    CronJobProvider().delete(name, _props(conninfo, name=name))


def test_adopt_takes_over_a_matching_hand_made_job_and_refuses_a_different_one(
    services: Services, cron_db: str, database: Database
) -> None:
    """A job the guide's SQL made (`cron.schedule(...)` pasted in the SQL editor): with
    ``supastack:adopt`` the stack takes it over without re-creating it when it matches, and
    fails naming the differences when not, changing nothing."""
    declared = _props(cron_db, name="hand-made", database=database.name, adopt=True)
    with connect(cron_db) as conn:
        (made,) = conn.execute(
            "select cron.schedule_in_database('hand-made', '*/5 * * * *', 'select 1', %s)",
            [database.name],
        ).fetchone()  # type: ignore[misc]
    provider = CronJobProvider()
    adopted = provider.create(declared)
    assert outs(adopted)["job_id"] == made  # the same job, not a new one
    assert provider.diff("hand-made", outs(adopted), {**declared, "adopt": False}).changes is False

    with connect(cron_db) as conn:
        conn.execute("select cron.alter_job(%s, schedule := '0 3 * * *')", [made])
    with pytest.raises(SupastackError, match=r"cannot adopt pg_cron job 'hand-made': it exists and "
                       r"differs from the program in schedule; make them equal"):  # fmt: skip
        provider.create(declared)
    assert _job(services, "hand-made")[0] == "0 3 * * *"  # type: ignore[index]  # unchanged
    # adopt's review accepted replacing it (supastack:adoptReplaces): scheduled as declared
    replaced = outs(provider.create({**declared, "replaces": True}))
    assert replaced["job_id"] == made  # in place: the same job
    assert _job(services, "hand-made")[0] == "*/5 * * * *"  # type: ignore[index]
    provider.delete("hand-made", declared)
