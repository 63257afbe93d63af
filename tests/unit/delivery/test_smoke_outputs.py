"""The outputs contract and the smoke runner's failure modes (no services needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supastack.cli import app
from supastack.database import advisors
from supastack.database.advisors import Finding, Level
from supastack.delivery.outputs import load
from supastack.delivery.smoke import _advisors, run
from supastack.errors import SupastackError

MINIMAL = {
    "stack": "local",
    "target": "local",
    "databaseUrl": "postgresql://postgres:pw@127.0.0.1:1/postgres?sslmode=disable",
    "cronDatabase": "postgres",
    "functionsUrl": "http://127.0.0.1:1",
    "managementApi": {"url": "http://127.0.0.1:1", "projectRef": "local", "token": "sbp_x"},
}


def test_outputs_that_are_not_ours_name_the_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"target": "local"}))
    with pytest.raises(SupastackError, match=r"outputs.json: not the stack outputs .*databaseUrl"):
        load(path)
    path.write_text("{not json")
    with pytest.raises(SupastackError, match=r"outputs.json: cannot read stack outputs"):
        load(path)


def test_an_unreachable_stack_fails_checks_instead_of_crashing(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(MINIMAL))
    results = run(load(path))
    assert [r.name for r in results if not r.ok] == [
        "database checks",
        "operations checks",
        "advisors checks",
    ]
    assert all("pw" not in r.detail for r in results)  # the password never shows
    cli = CliRunner().invoke(app, ["smoke", "--outputs", str(path)])
    assert cli.exit_code == 1 and "0 passed, 3 failed" in cli.output


def test_smoke_fails_on_what_the_stack_can_fix_not_on_what_only_the_owner_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statistics readable by the API roles are the database owner's to revoke (on
    Supabase, pg_catalog is supabase_admin's): reported by db advisors, not failing smoke."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(MINIMAL))
    owners = Finding(Level.WARN, "statistics_readable_by_api_roles", "pg_catalog: 58", "...")
    ours = Finding(Level.WARN, "function_search_path_mutable", "public.f()", "...")
    monkeypatch.setattr(advisors, "advise", lambda _url, declared=None: [owners])
    assert all(check.ok for check in _advisors(load(path)))
    monkeypatch.setattr(advisors, "advise", lambda _url, declared=None: [owners, ours])
    failed = [check for check in _advisors(load(path)) if not check.ok]
    assert [(c.name, c.detail) for c in failed] == [
        ("database advisors: no WARN findings", "function_search_path_mutable: public.f()")
    ]
