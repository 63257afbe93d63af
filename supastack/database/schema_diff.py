"""Stripe's pg-schema-diff (the differ the Supabase CLI uses for ``db diff``) over two databases:
the statements that make ``live`` what ``expected`` is, each with the hazards it names (data
deleted, an index dropped, access changed).

The connection strings never reach the differ's command line, where any user of the machine
could read them: it gets them without their passwords, and the passwords through a libpq
password file that exists only in memory (``memfd``, mode 0600, inherited by the differ alone).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from supastack.errors import SupastackError

#: How long one plan may take (two catalog reads and a diff: about a second here).
TIMEOUT_S = 300


@dataclass(frozen=True)
class Planned:
    """One statement of the differ's plan, and what it warns of."""

    statement: str
    hazards: tuple[tuple[str, str], ...] = ()
    """(type, message) pairs, e.g. ``("DELETES_DATA", "Deletes all values in the column")``."""

    def __str__(self) -> str:
        warned = "".join(f"-- hazard {kind}: {message}\n" for kind, message in self.hazards)
        return f"{warned}{self.statement.rstrip().rstrip(';')};\n"


def plan(differ: Path, live: str, expected: str, schemas: Sequence[str]) -> list[Planned]:
    """What brings ``live`` to ``expected`` in ``schemas`` (nothing: they match)."""
    passwords, dsns = _without_passwords([live, expected])
    args = [str(differ), "plan", "--from-dsn", dsns[0], "--to-dsn", dsns[1],
            # validation would build the live schema again in a database it creates on the live
            # server; the shadow (``expected``) is already the validated end state
            "--disable-plan-validation", "--output-format", "json"]  # fmt: skip
    for schema in schemas:
        args += ["--include-schema", schema]
    fd = _passfile(passwords)
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, check=False, timeout=TIMEOUT_S,
            pass_fds=(fd,), env=_environment(fd),
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise SupastackError(f"pg-schema-diff: no plan within {TIMEOUT_S} s") from None
    finally:
        os.close(fd)
    if done.returncode != 0:
        raise SupastackError(f"pg-schema-diff: {done.stderr.strip()[-2000:]}")
    return [
        Planned(s["ddl"], tuple((h["type"], h["message"]) for h in s.get("hazards") or ()))
        for s in json.loads(done.stdout).get("statements") or ()
    ]


def _without_passwords(dsns: Sequence[str]) -> tuple[list[str], list[str]]:
    """libpq password-file lines for ``dsns`` and the connection strings without passwords."""
    lines, bare = [], []
    for dsn in dsns:
        params = conninfo_to_dict(dsn)
        password = str(params.pop("password", "") or "")
        if password:
            fields = [str(params.get(k) or "*") for k in ("host", "port", "dbname", "user")]
            escaped = [f.replace("\\", "\\\\").replace(":", "\\:") for f in [*fields, password]]
            lines.append(":".join(escaped))
        bare.append(make_conninfo("", **{k: v for k, v in params.items() if v is not None}))
    return lines, bare


def _environment(passfile: int) -> dict[str, str]:
    """The differ's environment: the password file, and no PGPASSWORD (libpq would take it for
    both databases before the file, and the shadow's password is not the live one's)."""
    kept = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGPASSFILE")}
    return {**kept, "PGPASSFILE": f"/proc/self/fd/{passfile}"}


def _passfile(lines: Sequence[str]) -> int:
    """A password file in memory (libpq refuses one others could read: 0600)."""
    fd = os.memfd_create("supastack-pgpass")
    os.fchmod(fd, 0o600)
    os.write(fd, "".join(f"{line}\n" for line in lines).encode())
    return fd
