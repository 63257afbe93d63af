"""Every `supastack` help screen, as a newcomer reads it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supastack.cli import app

COMMANDS = [
    [], ["local"], ["local", "up"], ["local", "down"], ["local", "status"], ["local", "reset"],
    ["db"], ["db", "status"], ["db", "lint"], ["db", "advisors"], ["db", "restore"],
    ["smoke"], ["rollback"], ["deploy"], ["preview"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "supastack")
def test_flags_show_no_type(command: list[str]) -> None:
    """typer 0.29 showed `--help <bool>` and `--yes <bool>`; flags take no value."""
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--help" in result.output and "<bool>" not in result.output
