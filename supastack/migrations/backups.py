"""Backups taken before a destructive migration runs, and restoring them.

A backup is ``pg_dump -Fc`` of the stack's database, stored under a key that names the app,
the migration and the direction: in an S3 bucket (server-side encrypted, any S3-compatible
endpoint) or, on the local target, in a directory. The password reaches ``pg_dump`` and
``pg_restore`` through the environment, never the command line.

Restoring goes into a *new* database (``--into``), so a bad backup never overwrites the live
one; swapping databases is a deliberate step the operator takes afterwards. pg_cron can only
live in the database named by ``cron.database_name``, so its extension and job table are left
out of a restore; the stack declares its jobs again on the next deploy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from supastack.config.settings import BackupSettings
from supastack.database.postgres import connect
from supastack.errors import SupastackError
from supastack.local.system import PG_BIN
from supastack.migrations.files import MigrationFile
from supastack.migrations.states import BeforeRun, Direction

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: TOC entries of pg_cron (extension, its comment, its tables' data) that a restore skips.
_PG_CRON_ENTRY = re.compile(r"(EXTENSION - pg_cron|COMMENT - EXTENSION pg_cron| cron \S+ \S+$)")


class BackupStore(Protocol):
    """Where dumps are kept."""

    def put(self, dump: Path, key: str) -> None: ...

    def get(self, key: str, into: Path) -> None: ...


@dataclass(frozen=True)
class DirectoryStore:
    """Dumps as files under a directory (the local target)."""

    directory: Path

    def _path(self, key: str) -> Path:
        path = (self.directory / key).resolve()
        if not path.is_relative_to(self.directory.resolve()):
            raise SupastackError(f"backup key {key!r} points outside {self.directory}")
        return path

    def put(self, dump: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dump, target)
        target.chmod(0o600)

    def get(self, key: str, into: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise SupastackError(f"no backup {key!r} in {self.directory}")
        shutil.copyfile(source, into)


@dataclass(frozen=True)
class S3Store:
    """Dumps as objects in an S3 bucket, encrypted at rest (AES256 or a KMS key)."""

    settings: BackupSettings

    def _client(self) -> S3Client:
        import boto3  # noqa: PLC0415 (0.1 s of every command's start-up, for S3 backups only)

        return boto3.client(
            "s3", endpoint_url=self.settings.endpoint, region_name=self.settings.region
        )

    def put(self, dump: Path, key: str) -> None:
        extra: dict[str, str] = {"ServerSideEncryption": self.settings.sse}
        if self.settings.kms_key_id:
            extra["SSEKMSKeyId"] = self.settings.kms_key_id
        assert self.settings.bucket
        self._client().upload_file(str(dump), self.settings.bucket, key, ExtraArgs=extra)

    def get(self, key: str, into: Path) -> None:
        assert self.settings.bucket
        client = self._client()
        try:
            client.download_file(self.settings.bucket, key, str(into))
        except client.exceptions.ClientError as exc:
            raise SupastackError(
                f"cannot fetch backup {key!r} from s3://{self.settings.bucket}: {exc}"
            ) from None


def backup_directory(settings: BackupSettings, project_dir: Path, state_dir: Path) -> Path:
    """Where local dumps go: ``directory`` (relative to the project) or ``<state>/backups``."""
    if not settings.directory:
        return state_dir / "backups"
    directory = Path(settings.directory)
    return directory if directory.is_absolute() else project_dir / directory


def store_for(settings: BackupSettings, directory: Path) -> BackupStore:
    """S3 when a bucket is configured, else ``directory`` (see :func:`backup_directory`)."""
    if settings.bucket:
        return S3Store(settings)
    return DirectoryStore(directory)


def _tool(name: str) -> str:
    local = PG_BIN / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise SupastackError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(command: list[str], conninfo: str, what: str) -> subprocess.CompletedProcess[str]:
    """Run a libpq tool with the password in PGPASSWORD, not on the command line."""
    params = conninfo_to_dict(conninfo)
    password = str(params.pop("password", "") or "")
    env = {**os.environ, "PGPASSWORD": password}
    result = subprocess.run(
        [*command, f"--dbname={make_conninfo(**params)}"],  # type: ignore[arg-type]
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.strip().replace(password, "[secret]") if password else result.stderr
        raise SupastackError(f"{what} failed: {detail.strip()}")
    return result


def backup_key(prefix: str, app: str, migration: str, direction: str, now: datetime) -> str:
    """``<prefix><app>/<migration>.<direction>.<UTC time>.dump``: sortable and self-describing."""
    return f"{prefix}{app}/{migration}.{direction}.{now:%Y%m%dT%H%M%S%fZ}.dump"


@dataclass(frozen=True)
class Backups:
    """Dump a database into a store, and restore a dump into a new database."""

    store: BackupStore
    prefix: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def take(self, conninfo: str, app: str, migration: str, direction: str) -> str:
        key = backup_key(self.prefix, app, migration, direction, self.clock())
        with tempfile.TemporaryDirectory(prefix="supastack-backup-") as tmp:
            dump = Path(tmp) / "db.dump"
            _run([_tool("pg_dump"), "-Fc", f"--file={dump}"], conninfo, "pg_dump")
            self.store.put(dump, key)
        return key

    def restore(self, conninfo: str, key: str, into: str) -> None:
        """Restore ``key`` into the new database ``into`` on the same server."""
        with connect(conninfo) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [into]).fetchone():
                raise SupastackError(
                    f"database {into!r} exists; restore into a new database, then swap"
                )
            with tempfile.TemporaryDirectory(prefix="supastack-restore-") as tmp:
                dump, listing = Path(tmp) / "db.dump", Path(tmp) / "toc.list"
                self.store.get(key, dump)
                toc = subprocess.run(
                    [_tool("pg_restore"), "--list", str(dump)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if toc.returncode != 0:
                    raise SupastackError(f"{key}: not a pg_dump archive: {toc.stderr.strip()}")
                listing.write_text(
                    "\n".join(
                        line for line in toc.stdout.splitlines() if not _PG_CRON_ENTRY.search(line)
                    )
                )
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(into)))
                try:
                    _run(
                        [
                            _tool("pg_restore"),
                            "--exit-on-error",
                            "--no-owner",
                            f"--use-list={listing}",
                            str(dump),
                        ],
                        make_conninfo(conninfo, dbname=into),
                        f"pg_restore of {key} into {into}",
                    )
                except SupastackError:
                    # Leave nothing half-restored behind.
                    conn.execute(
                        sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(into))
                    )
                    raise


def before_destructive(
    backups: Backups | None, conninfo: str, destructive_up: bool, destructive_down: bool
) -> BeforeRun | None:
    """The engine hook that dumps the database before a destructive file or down file runs."""
    if backups is None:
        return None

    def before_run(file: MigrationFile, direction: Direction) -> str | None:
        if not (destructive_up if direction is Direction.UP else destructive_down):
            return None
        return backups.take(conninfo, file.app, f"{file.version}_{file.name}", direction.value)

    return before_run


def from_settings(settings: BackupSettings, directory: Path) -> Backups | None:
    """The stack's backups, or None when they are off."""
    if not settings.enabled:
        return None
    return Backups(store_for(settings, directory), settings.prefix)
