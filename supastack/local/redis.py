"""The local target's Redis: Debian's ``redis-server``, started by ``supastack local up`` when
an app the stack deploys asks for one (a manifest's ``redis: true``), as Upstash's Redis
endpoint stands in for it on Supabase.

It listens on 127.0.0.1 only, requires the password generated with the local credentials (in
its config file, mode 0600, never on a command line), keeps nothing on disk (a cache), and is
stopped by ``supastack local down``. Functions reach it through the ``REDIS_URL`` secret.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from supastack.local import process
from supastack.private_files import write_private

SERVER = Path("/usr/bin/redis-server")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LocalRedis:
    directory: Path
    port: int
    password: str = field(repr=False)

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    @property
    def _pid_file(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def _config(self) -> Path:
        return self.directory / "redis.conf"

    def pid(self) -> int | None:
        """The server's pid if it runs (a stale pid file, or a reused pid, counts as not)."""
        return process.pid_from(self._pid_file, b"redis-server")

    def answers(self) -> bool:
        """Whether it answers PING with the password (and so is ready)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                conn.shutdown(socket.SHUT_WR)
                reply = b"".join(iter(lambda: conn.recv(4096), b""))
        except OSError:
            return False
        return reply.endswith(b"+PONG\r\n")

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_private(
            self._config,
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f'requirepass "{self.password}"',
                    "protected-mode yes",
                    "daemonize yes",
                    f"pidfile {self._pid_file.resolve()}",
                    f"logfile {(self.directory / 'redis.log').resolve()}",
                    f"dir {self.directory.resolve()}",
                    'save ""',
                    "appendonly no",
                    "",
                ]
            ),
        )
        started = subprocess.run(
            [str(SERVER), str(self._config)], capture_output=True, text=True, check=False
        )
        why = (
            f"the local Redis did not start on 127.0.0.1:{self.port}: "
            f"{(started.stderr or started.stdout).strip()} (log: {self.directory})"
        )
        process.wait_ready(self.answers, START_TIMEOUT_S,
                           exited=lambda: why if started.returncode != 0 else None,
                           timed_out=lambda: why)  # fmt: skip

    def stop(self) -> None:
        process.stop(self.pid, self._pid_file, STOP_TIMEOUT_S)
