"""Peers of supastack's migration engine, run by ``bench.migrations`` on the same 200 generated
migrations and fresh databases of the same cluster, in the same run:

- the **Supabase CLI**'s ``supabase migration up --db-url`` (v1.226.4, built from the Go module
  proxy and pinned in ``tools/peers/go.mod``; the first build takes about six minutes), which
  keeps the same history table (``supabase_migrations.schema_migrations``);
- **Atlas** is not run: the Go module proxy does not serve its CLI (:data:`ATLAS_BLOCKED`), and a
  harness of our own around its library would measure that harness, not ``atlas migrate
  apply``.

The database's password reaches the CLI in ``PGPASSWORD``, never on its command line.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from supastack.errors import SupastackError
from supastack.local import go_tools

ATLAS_BLOCKED = (
    "Atlas: not run: the Go module proxy answers 404 for its CLI module ariga.io/atlas/cmd/atlas "
    "at v1.4.0, v0.36.0, v0.32.0, v0.31.0 and v0.28.0 (tried with GOTOOLCHAIN=go1.27.3); it "
    "serves only the library ariga.io/atlas, which has no migrate apply or lint command"
)


def supabase_cli() -> Path | str:
    """The Supabase CLI, or why it could not be built."""
    try:
        return go_tools.ensure_supabase_cli()
    except SupastackError as failed:
        return f"Supabase CLI: not run: {failed}"


def supabase_project(root: Path, migrations: Path) -> Path:
    """A Supabase CLI project whose ``supabase/migrations`` are the bench's files."""
    workdir = root / "supabase-project"
    (workdir / "supabase").mkdir(parents=True, exist_ok=True)
    link = workdir / "supabase" / "migrations"
    if not link.exists():
        link.symlink_to(migrations)
    return workdir


def supabase_up(cli: Path, conninfo: str, workdir: Path) -> float:
    """Seconds for ``supabase migration up --db-url`` over ``workdir``'s migrations."""
    params = conninfo_to_dict(conninfo)
    url = (
        f"postgresql://{quote(str(params['user']))}@{params['host']}:{params['port']}/"
        f"{quote(str(params['dbname']))}?sslmode=disable"
    )
    env = {**os.environ, "PGPASSWORD": str(params.get("password") or "")}
    started = time.perf_counter()
    subprocess.run(
        [str(cli), "migration", "up", "--db-url", url, "--workdir", str(workdir)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started
