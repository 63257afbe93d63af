"""`verify:` checks against a real database and HTTP endpoint: what passes, what fails and why,
and manifests that declare them wrong."""

from __future__ import annotations

import datetime as dt

import pytest

from supastack.config.manifest import AppManifest
from supastack.delivery.specs import HttpProbe, SqlCheck
from supastack.delivery.verify import run_http, run_sql
from supastack.errors import SupastackError
from tests.conftest import RecordingServer
from tests.core.conftest import Database


def _check(query: str, expect: dict[str, object], role: str = "postgres") -> SqlCheck:
    return SqlCheck.model_validate(
        {"name": query[:40], "query": query, "role": role, "expect": expect}
    )


def test_sql_checks_pass_and_fail_with_what_they_got(database: Database) -> None:
    database.execute("create table public.items (n int); insert into public.items values (1), (2)")
    checks = [
        _check("select n from public.items order by n", {"rows": [[1], [2]]}),
        _check("select n from public.items", {"count": 2}),
        _check("select count(*) from public.items", {"min": 2}),
        _check("select n from public.items where n > 5", {"empty": True}),
        _check("select n from public.items order by n", {"rows": [[2], [1]]}),
        _check("select count(*) from public.items", {"min": 3}),
        _check("select n from public.missing", {"empty": True}),
    ]
    results = [(ok, detail) for _, ok, detail in run_sql(database.url, checks)]
    assert results[:4] == [(True, "")] * 4
    assert results[4] == (False, "got [[1], [2]]")
    assert results[5] == (False, "got 2")
    assert results[6] == (False, '42P01: relation "public.missing" does not exist')


def test_a_refusal_can_be_what_is_expected(database: Database) -> None:
    database.execute("create table public.hidden (n int); revoke all on public.hidden from public")
    checks = [
        _check("select * from public.hidden", {"denied": True}, role="anon"),
        _check("select * from public.hidden", {"denied": True}),  # postgres may read it
    ]
    results = [(ok, detail) for _, ok, detail in run_sql(database.url, checks)]
    assert results == [(True, ""), (False, "the query ran (0 rows); expected it to be refused")]


def test_a_check_runs_as_its_role_and_leaves_nothing_behind(database: Database) -> None:
    database.execute("create table public.t (n int); grant select on public.t to anon")
    checks = [
        _check("select current_user::text", {"rows": [["anon"]]}, role="anon"),
        _check("select (auth.uid() is not null)", {"rows": [[True]]}, role="authenticated"),
    ]
    results = list(run_sql(database.url, checks))
    assert [ok for _, ok, _ in results] == [True, False]  # no auth schema in this database
    assert database.scalar("select count(*) from public.t") == 0


def test_http_probes_check_status_keys_and_callers(http_endpoint: RecordingServer) -> None:
    probes = [
        HttpProbe.model_validate(probe)
        for probe in (
            {"name": "ok", "function": "f", "caller": "service", "body": {"a": 1},
             "expect": {"status": 200, "keys": ["ok"]}},
            {"name": "wrong status", "function": "f", "expect": {"status": 401}},
            {"name": "missing key", "function": "f", "expect": {"status": 200, "keys": ["x"]}},
            {"name": "no user", "function": "f", "caller": "user", "expect": {"status": 200}},
            {"name": "dated", "function": "f", "method": "GET", "path": "?on={today+10}&d={today}",
             "expect": {"status": 200}},
        )
    ]  # fmt: skip
    credentials: dict[str, str | None] = {"service": "service-key", "user": None}
    today = dt.date(2027, 12, 31)  # the stack's today, given: a date rolls over ten days on
    results = list(run_http(http_endpoint.url, probes, credentials, today))
    assert results == [
        ("ok", True, ""),
        ("wrong status", False, 'HTTP 200: {"ok": true}'),
        ("missing key", False, "missing keys ['x']"),
        ("no user", False, "no credentials for a user caller"),
        ("dated", True, ""),
    ]
    assert http_endpoint.requests[-1].path == "/functions/v1/f?on=2028-01-10&d=2027-12-31"
    first = http_endpoint.requests[0]
    assert (
        first.path == "/functions/v1/f" and first.headers["Authorization"] == "Bearer service-key"
    )


@pytest.mark.parametrize(
    ("verify", "message"),
    [
        ({"http": [{"name": "x", "function": "nope", "expect": {"status": 200}}]},
         r"verify.http.0.function: 'nope' is not one of this app's functions"),
        ({"sql": [{"name": "x", "query": "delete from t", "expect": {"empty": True}}]},
         r"query: must be one SELECT"),
        ({"sql": [{"name": "x", "query": "select 1", "expect": {"empty": True, "count": 1}}]},
         r"give exactly one of rows, count, min, empty, denied"),
    ],
)  # fmt: skip
def test_a_wrong_verify_section_is_refused_at_load(verify: object, message: str) -> None:
    with pytest.raises((SupastackError, ValueError), match=message):
        AppManifest.model_validate({"app": "shop", "source": "apps/shop.yaml", "verify": verify})
