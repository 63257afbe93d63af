"""The CLI works on the project it is run in (the nearest Pulumi.yaml, as the Pulumi CLI finds
it), never on the checkout supastack happens to be installed from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supastack.cli import app
from supastack.config.project import banner, find_project
from supastack.errors import SupastackError
from supastack.local.paths import PROJECT_DIR


def _copy_of_the_project(root: Path) -> Path:
    copy = root / "copy"
    copy.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.local.yaml"):
        shutil.copy(PROJECT_DIR / name, copy / name)
    (copy / "migrations" / "bidding").mkdir(parents=True)
    return copy


def test_the_project_is_the_nearest_pulumi_yaml_above_the_working_directory(
    tmp_path: Path,
) -> None:
    copy = _copy_of_the_project(tmp_path)
    assert find_project(copy / "migrations" / "bidding") == copy
    assert find_project(copy) == copy
    assert banner(copy, "local") == f"project supastack ({copy}), stack local"


def test_outside_any_project_the_error_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(SupastackError, match=rf"no Pulumi.yaml in {tmp_path} or any of its"):
        find_project(tmp_path)
    result = CliRunner().invoke(app, ["--cwd", str(tmp_path), "local", "status"])
    assert result.exit_code == 1
    assert f"no Pulumi.yaml in {tmp_path}" in result.output
    # help needs no project
    assert CliRunner().invoke(app, ["--cwd", str(tmp_path), "local", "up", "--help"]).exit_code == 0


def test_a_copy_of_a_checkout_is_deployed_as_the_copy(tmp_path: Path) -> None:
    """Run from inside a copy (sharing the original's installed supastack), the CLI reads the
    copy's files: its own migration's finding is reported, and only that."""
    copy = _copy_of_the_project(tmp_path)
    (copy / "migrations" / "bidding" / "20990101000000_only_in_the_copy.sql").write_text(
        "create index bids_by_amount on public.bids (amount);\n"
    )
    result = CliRunner().invoke(app, ["--cwd", str(copy / "migrations"), "db", "lint"])
    assert "20990101000000_only_in_the_copy.sql" in result.output
    assert "1 finding(s)" in result.output, result.output


def test_a_project_file_without_a_name_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("runtime: python\n")
    with pytest.raises(SupastackError, match=r"Pulumi.yaml: name: a project name is required"):
        banner(tmp_path, "local")
