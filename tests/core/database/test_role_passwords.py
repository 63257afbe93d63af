"""Role passwords reach the server only as SCRAM verifiers: the plaintext is in no statistics
view, log or file of the cluster."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from supastack.database import scram
from supastack.local.bootstrap import apply_bootstrap
from tests.conftest import Services


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    """Every file under ``root`` (the cluster's data and logs) whose bytes contain ``needle``."""
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_the_verifier_is_libpqs_byte_for_byte(services: Services) -> None:
    """libpq salts at random; given the salt it chose, ours must compute the same verifier."""
    with services.connect() as conn:
        from_libpq = conn.pgconn.encrypt_password(b"s3cret-Pass", b"anyone", b"scram-sha-256")
    iterations, salt = from_libpq.decode().split("$")[1].split(":")
    ours = scram.verifier("s3cret-Pass", base64.b64decode(salt), int(iterations))
    assert ours == from_libpq.decode()


def test_a_role_given_the_verifier_logs_in_with_the_plaintext(services: Services) -> None:
    role, password = f"r_{uuid.uuid4().hex[:8]}", "generated-" + uuid.uuid4().hex
    with services.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(scram.verifier(password, b"0123456789abcdef"))
            )
        )
    try:
        with psycopg.connect(services.dsn(role, password)) as conn:
            assert conn.execute("select current_user").fetchone() == (role,)
    finally:
        with services.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_authenticator_password_never_reaches_the_server_as_text(services: Services) -> None:
    """The bootstrap sets it on every `local up`: afterwards it works for logging in, and it is
    in neither pg_stat_statements (nor the file behind it), pg_stat_activity, the server log,
    nor any other file of the cluster."""
    password = services.credentials.authenticator_password
    apply_bootstrap(services.dsn(), password)  # once more, now with statistics being kept
    with psycopg.connect(services.dsn("authenticator", password)) as conn:
        assert conn.execute("select current_user").fetchone() == ("authenticator",)
    with services.connect() as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        in_statements = conn.execute(
            "select count(*) from pg_stat_statements where strpos(query, %s) > 0", [password]
        ).fetchone()
        in_activity = conn.execute(
            "select count(*) from pg_stat_activity where strpos(query, %s) > 0 "
            "and pid <> pg_backend_pid()",
            [password],
        ).fetchone()
        conn.execute("checkpoint")  # every buffer written to the files searched below
    assert (in_statements, in_activity) == ((0,), (0,))
    cluster = services.env.paths
    assert _files_holding(cluster.pgdata, password.encode()) == []
    assert _files_holding(cluster.logs, password.encode()) == []
