"""The floor bench's server (bench/floor.ts, bench/floor.py): it answers the statement for the
caller its token names, through the functions' client, so a floor measures the function's own
query; a server that cannot start says why."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from unittest import mock

import httpx
import pytest

from bench import floor
from supastack.local import system
from tests.core.conftest import Database


def bearer(sub: str) -> dict[str, str]:
    """An unsigned token naming ``sub`` (the floor reads it without verifying, as documented)."""
    payload = base64.urlsafe_b64encode(json.dumps({"sub": sub}).encode()).decode().rstrip("=")
    return {"Authorization": f"Bearer e30.{payload}.unsigned"}


def test_the_floor_answers_the_statement_for_the_caller_its_token_names(
    database: Database,
) -> None:
    active, canceled = str(uuid.uuid4()), str(uuid.uuid4())
    with database.connect() as conn:
        conn.execute("create table subscriptions (user_id uuid, status text)")
        conn.execute("insert into subscriptions values (%s, 'active'), (%s, 'canceled')",
                     [active, canceled])  # fmt: skip
    statement = "select status from subscriptions where user_id = $1"
    with floor.serving(database.url, statement) as url, httpx.Client() as http:
        assert http.get(url, headers=bearer(active)).json() == {"status": "active"}
        assert http.get(url, headers=bearer(canceled)).json() == {"status": "canceled"}
        assert http.get(url, headers=bearer(str(uuid.uuid4()))).json() is None  # no row


def test_a_floor_that_cannot_listen_says_why(database: Database) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            mock.patch.object(system, "free_port", return_value=port),
            pytest.raises(SystemExit, match=r"floor\.ts did not start listening \(exit 1;"),
            floor.serving(database.url, "select 1"),
        ):
            pass
