"""The ``supastack`` command's entry point: the offline applier is started ahead for
``supastack local deploy`` (:mod:`supastack.local.applier_ahead`), then the CLI
(:mod:`supastack.cli`) is imported and run; it ends without the interpreter's teardown
(:mod:`supastack.quick_exit`)."""

from __future__ import annotations

import sys
from pathlib import Path

from supastack.config.project import find_project
from supastack.errors import SupastackError
from supastack.local import applier_ahead
from supastack.quick_exit import exit_now


def _local_deploy(argv: list[str]) -> tuple[Path, str] | None:
    """The project directory and stack of ``[--cwd DIR] local deploy [--stack S] ...``; None
    for any other command line (or one this reading is not sure of: the CLI decides)."""
    cwd = Path.cwd()
    if argv[:1] == ["--cwd"] and len(argv) > 1:
        cwd, argv = Path(argv[1]), argv[2:]
    if argv[:2] != ["local", "deploy"] or "--help" in argv:
        return None
    rest, stack = argv[2:], "local"
    for flag in ("--stack", "-s"):
        if flag in rest:
            at = rest.index(flag)
            if at + 1 >= len(rest):
                return None
            stack = rest[at + 1]
    try:
        return find_project(cwd), stack
    except SupastackError:
        return None  # the CLI says so


def main() -> None:
    """``supastack``."""
    found = _local_deploy(sys.argv[1:])
    if found is not None:
        applier_ahead.start(*found)
    from supastack.cli import app  # noqa: PLC0415 (after the applier has started)

    try:
        app()
    except SystemExit as done:
        if not isinstance(done.code, int | None):
            raise  # a message to print: the interpreter's exit says it
        exit_now(done.code or 0)
