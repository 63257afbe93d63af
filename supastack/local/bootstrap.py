"""Apply the Supabase-compatible bootstrap in ``local/bootstrap/`` to the local cluster.

Each file is idempotent and runs in its own transaction, in name order, on every ``up``: a
bootstrap object dropped by hand comes back, and a newer supastack's bootstrap is picked up.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from supastack.errors import SupastackError
from supastack.local.paths import BOOTSTRAP_DIR


def bootstrap_files(directory: Path = BOOTSTRAP_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def apply_bootstrap(dsn: str, authenticator_password: str) -> None:
    with psycopg.connect(dsn) as conn:
        for path in bootstrap_files():
            try:
                with conn.transaction():
                    conn.execute(path.read_text().encode())
            except psycopg.Error as exc:
                raise SupastackError(f"{path.name}: bootstrap failed: {exc}") from None
        # libpq computes the SCRAM verifier (PQencryptPasswordConn): the plaintext never reaches
        # the server, where pg_stat_statements and the log would keep it.
        scram = conn.pgconn.encrypt_password(
            authenticator_password.encode(), b"authenticator", b"scram-sha-256"
        )
        with conn.transaction():
            conn.execute(
                sql.SQL("ALTER ROLE authenticator WITH LOGIN PASSWORD {}").format(
                    sql.Literal(scram.decode())
                )
            )
