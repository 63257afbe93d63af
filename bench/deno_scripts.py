"""The benches' TypeScript scripts, run by the pinned Deno with the functions' import map and
lock (so they load exactly the npm packages the functions do), given only the database URL the
functions are given."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from supastack.local import system
from supastack.local.environment import LocalEnvironment
from supastack.local.paths import DENO_DIR, PROJECT_DIR

FUNCTIONS = PROJECT_DIR / "functions"


def command(script: Path, *args: str) -> list[str]:
    """``deno run`` of ``script`` with ``args``: network, environment and reads allowed."""
    return [str(system.ensure_deno()), "run", "--quiet", "--allow-net", "--allow-env",
            "--allow-read", f"--config={FUNCTIONS / 'deno.json'}",
            f"--lock={FUNCTIONS / 'deno.lock'}", "--frozen", str(script), *args]  # fmt: skip


def environment(dsn: str) -> dict[str, str]:
    """The script's whole environment: ``dsn`` as SUPABASE_DB_URL (functions/_shared/db.ts)."""
    return {"PATH": os.environ["PATH"], "DENO_DIR": str(DENO_DIR), "NO_COLOR": "1",
            "HOME": str(Path.home()), "SUPABASE_DB_URL": dsn}  # fmt: skip


def functions_dsn(env: LocalEnvironment) -> str:
    """The database URL ``env``'s functions are given (SUPABASE_DB_URL)."""
    return env.runtime(env.credentials()).function_env()["SUPABASE_DB_URL"]


def said(errors: str, dsn: str) -> str:
    """The end of a script's error output, ``dsn``'s password masked wherever it appears (as
    the URL writes it, and decoded, as a client would quote it)."""
    written = urlsplit(dsn).password
    for form in {written, unquote(written)} if written else ():
        errors = errors.replace(form, "********")
    return errors[-2000:]  # masked first: the cut never leaves part of the password
