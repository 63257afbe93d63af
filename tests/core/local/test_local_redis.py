"""The local target's Redis (Debian's redis-server), as `supastack local up` runs it when an app
asks for one: on 127.0.0.1 only, behind its password (which no command line shows), ready when
started, stopped by `down` whether or not the stack still asks for one."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from supastack.local import system
from supastack.local.environment import LocalEnvironment
from supastack.local.redis import LocalRedis
from supastack.local.system import free_port


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[LocalRedis]:
    system.install_packages(system.missing_packages(system.REDIS_PACKAGES))
    server = LocalRedis(tmp_path / "redis", free_port(), "pw-" + tmp_path.name)
    server.start()
    yield server
    server.stop()


def _ask(port: int, *lines: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall("".join(f"{line}\r\n" for line in lines).encode())
        conn.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: conn.recv(4096), b""))


def test_it_answers_with_its_password_only(redis: LocalRedis) -> None:
    assert redis.answers()
    assert _ask(redis.port, "PING").startswith(b"-NOAUTH")
    assert _ask(redis.port, "AUTH wrong", "PING").startswith(b"-WRONGPASS")
    assert _ask(redis.port, f"AUTH {redis.password}", "SET k v", "GET k") == (
        b"+OK\r\n+OK\r\n$1\r\nv\r\n"
    )
    pid = redis.pid()
    assert pid is not None
    assert redis.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    config = redis.directory / "redis.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert redis.url == f"redis://:{redis.password}@127.0.0.1:{redis.port}/0"


def test_stopping_it_frees_its_port(redis: LocalRedis) -> None:
    redis.stop()
    assert redis.pid() is None and not redis.answers()
    assert system.port_is_free(redis.port)
    redis.stop()  # stopping what is stopped is fine


def test_local_up_starts_it_for_a_stack_that_asks_and_down_stops_it(state_root: Path) -> None:
    env = LocalEnvironment(
        state_root / "redis-env", db_port=free_port(), runtime_port=free_port(),
        redis_port=free_port(),
    )  # fmt: skip
    try:
        env.up(report=lambda _: None)
        status = {c.name: c.running for c in env.status()}
        assert status == {"postgres": True, "edge runtime": True, "redis": True}
        assert env.up(report=lambda _: None) is False  # all up already: nothing to do
        redis = env.redis(env.credentials())
        assert redis is not None and redis.answers()
        # a stack that no longer asks for one still has it stopped by down
        LocalEnvironment(env.state_dir, env.db_port, env.runtime_port).down(lambda _: None)
        assert not redis.answers()
    finally:
        env.down(report=lambda _: None)
