"""A local Postgres 15 cluster in the state directory, configured like a Supabase database.

The server loads pg_cron and pg_stat_statements, runs pg_cron jobs in background workers (so
jobs need no password), listens on 127.0.0.1 only with scram-sha-256 authentication, and knows
where the Vault key file is. The settings are rewritten on every start, so changing the port in
the stack config takes effect on the next ``up``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import make_conninfo

from supastack.errors import SupastackError
from supastack.local import system
from supastack.local.paths import StatePaths

SETTINGS_FILE = "supastack.conf"
PG_MAJOR = "15"
START_TIMEOUT_S = 60


#: Settings the local target owns; ``postgresSettings`` may not change them.
OWNED_SETTINGS = frozenset(
    {
        "listen_addresses",
        "port",
        "unix_socket_directories",
        "shared_preload_libraries",
        "cron.database_name",
        "cron.use_background_workers",
        "wal_level",
        "password_encryption",
        "supastack.vault_key_file",
    }
)


def render_settings(port: int, vault_key: Path) -> str:
    """The server settings supastack owns, kept in their own file included by postgresql.conf."""
    return "\n".join(
        [
            "# Written by supastack on every start; edit the stack config instead.",
            "listen_addresses = '127.0.0.1'",
            f"port = {port}",
            "unix_socket_directories = ''",
            "shared_preload_libraries = 'pg_cron,pg_stat_statements'",
            "cron.database_name = 'postgres'",
            "cron.use_background_workers = on",
            "max_worker_processes = 32",
            "wal_level = logical",
            "password_encryption = 'scram-sha-256'",
            f"supastack.vault_key_file = '{vault_key}'",
            "",
        ]
    )


@dataclass
class Cluster:
    """The local cluster: create, start, stop and ask about it."""

    paths: StatePaths
    port: int
    db_password: str = field(repr=False)

    def dsn(self, user: str = "postgres", password: str | None = None) -> str:
        """A libpq connection string (the password is only ever passed, never logged)."""
        return make_conninfo(
            host="127.0.0.1",
            port=self.port,
            dbname="postgres",
            user=user,
            password=self.db_password if password is None else password,
            connect_timeout=10,
        )

    def initialized(self) -> bool:
        version = self.paths.pgdata / "PG_VERSION"
        if not self.paths.pgdata.exists():
            return False
        if not version.exists():
            if any(self.paths.pgdata.iterdir()):
                raise SupastackError(
                    f"{self.paths.pgdata} exists but holds no Postgres cluster (stale state "
                    "directory); run `supastack local reset` to start afresh"
                )
            return False
        found = version.read_text().strip()
        if found != PG_MAJOR:
            raise SupastackError(
                f"{self.paths.pgdata} holds a Postgres {found} cluster, not {PG_MAJOR}; "
                "run `supastack local reset` to start afresh"
            )
        return True

    def create(self) -> None:
        """initdb as the cluster owner, with the superuser ``postgres`` and its password."""
        system.ensure_owner_can_reach(self.paths.root)
        for directory in (self.paths.root, self.paths.logs, self.paths.pgdata):
            directory.mkdir(parents=True, exist_ok=True)
        self.paths.pgdata.chmod(0o700)
        for directory in (self.paths.logs, self.paths.pgdata):
            system.give_to_cluster_owner(directory)
        self._write_vault_key()
        with tempfile.NamedTemporaryFile("w", dir=self.paths.root, delete=False) as pwfile:
            pwfile.write(self.db_password)
        try:
            system.give_to_cluster_owner(Path(pwfile.name))
            result = subprocess.run(
                system.as_cluster_owner(
                    [
                        str(system.PG_BIN / "initdb"),
                        "-D",
                        str(self.paths.pgdata),
                        "-U",
                        "postgres",
                        "--auth=scram-sha-256",
                        f"--pwfile={pwfile.name}",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise SupastackError(f"initdb failed for {self.paths.pgdata}:\n{tail}")
        conf = self.paths.pgdata / "postgresql.conf"
        with conf.open("a") as out:
            out.write(f"\ninclude_if_exists = '{SETTINGS_FILE}'\n")

    def _write_vault_key(self) -> None:
        """The Vault encryption key: outside the data directory, readable by the server only."""
        if self.paths.vault_key.exists():
            return
        fd = os.open(self.paths.vault_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        system.give_to_cluster_owner(self.paths.vault_key)

    def _pg_ctl(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``pg_ctl <args> -D <pgdata>`` as the cluster's owner."""
        cmd = [str(system.PG_BIN / "pg_ctl"), *args, "-D", str(self.paths.pgdata)]
        return subprocess.run(
            system.as_cluster_owner(cmd), capture_output=True, text=True, check=False, env=env
        )

    def _server_environment(self) -> dict[str, str]:
        """The process environment plus the state directory's ``postgres.env``, if any."""
        extra = self.paths.postgres_environment
        lines = extra.read_text().splitlines() if extra.exists() else []
        pairs = [line.split("=", 1) for line in lines if line.strip() and "=" in line]
        return {**os.environ, **{name.strip(): value.strip() for name, value in pairs}}

    def running(self) -> bool:
        if not (self.paths.pgdata / "PG_VERSION").exists():
            return False
        return self._pg_ctl("status").returncode == 0

    def start(self) -> None:
        settings = self.paths.pgdata / SETTINGS_FILE
        settings.write_text(render_settings(self.port, self.paths.vault_key.resolve()))
        system.give_to_cluster_owner(settings)
        started = self._pg_ctl(
            "start",
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-l",
            str(self.paths.postgres_log),
            env=self._server_environment(),
        )
        if started.returncode != 0:
            raise SupastackError(
                f"the local Postgres did not start (data {self.paths.pgdata}); last lines of "
                f"{self.paths.postgres_log}:\n{self._log_tail()}"
            )

    def stop(self) -> None:
        if not self.running():
            return
        stopped = self._pg_ctl("stop", "-w", "-m", "fast")
        if stopped.returncode != 0:
            raise SupastackError(f"pg_ctl stop failed for {self.paths.pgdata}: {stopped.stderr}")

    def restart(self) -> None:
        """Stop and start again (for settings Postgres reads only at start)."""
        self.stop()
        self.start()

    @property
    def _auto_conf(self) -> Path:
        return self.paths.pgdata / "postgresql.auto.conf"

    def system_settings(self) -> str:
        """``postgresql.auto.conf``: what ALTER SYSTEM has written."""
        return self._auto_conf.read_text()

    def restart_or_restore(self, previous_settings: str) -> None:
        """Restart; if Postgres does not start with the new ALTER SYSTEM settings, put
        ``previous_settings`` (an earlier :meth:`system_settings`) back, start with them, and
        raise with what Postgres said. The cluster is never left down by a bad value."""
        try:
            self.restart()
        except SupastackError:
            said = [line for line in self._log_tail(40).splitlines() if "FATAL" in line]
            write = self._auto_conf.with_suffix(".supastack-restore")
            write.write_text(previous_settings)
            write.replace(self._auto_conf)
            system.give_to_cluster_owner(self._auto_conf)
            self.start()
            raise SupastackError(
                "Postgres did not start with it "
                f"({said[-1].split('FATAL:', 1)[-1].strip() if said else 'see its log'}); "
                "the previous settings were put back and the cluster runs with them"
            ) from None

    def _log_tail(self, lines: int = 10) -> str:
        try:
            return "\n".join(self.paths.postgres_log.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"
