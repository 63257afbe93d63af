"""Backups: pg_dump into S3 (moto's real S3 server) or a directory, and restore into a new DB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from psycopg.conninfo import make_conninfo

from supastack.config.settings import BackupSettings
from supastack.errors import SupastackError
from supastack.local.system import free_port
from supastack.migrations.backups import Backups, DirectoryStore, S3Store
from tests.conftest import Services
from tests.core.conftest import Database

BUCKET = "supastack-backups-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free port, with a bucket; fake credentials for boto3."""
    with pytest.MonkeyPatch.context() as env:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-central-1",
        }.items():
            env.setenv(key, value)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        yield endpoint
        server.stop()


def _seed(database: Database) -> None:
    with database.connect() as conn:
        conn.execute(
            "create schema shop; create table shop.items (id bigint primary key, name text)"
        )
        conn.execute("insert into shop.items values (1, 'kept by the backup')")


def _restored(services: Services, name: str) -> object:
    target = Database(name, make_conninfo(services.dsn(), dbname=name))
    return target.scalar("select name from shop.items where id = 1")


def _drop(services: Services, name: str) -> None:
    with services.connect() as conn:
        conn.execute(f'drop database if exists "{name}" with (force)'.encode())


def test_backup_to_s3_is_encrypted_and_restores_into_a_new_database(
    services: Services, database: Database, s3_endpoint: str
) -> None:
    _seed(database)
    settings = BackupSettings(
        enabled=True, bucket=BUCKET, prefix="staging/", endpoint=s3_endpoint, region="eu-central-1"
    )
    backups = Backups(S3Store(settings), settings.prefix)

    key = backups.take(database.conninfo, "shop", "2_drop_name", "up")

    assert key.startswith("staging/shop/2_drop_name.up.") and key.endswith(".dump")
    head = boto3.client("s3", endpoint_url=s3_endpoint).head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    into = f"restored_{uuid.uuid4().hex[:8]}"
    try:
        backups.restore(database.conninfo, key, into)
        assert _restored(services, into) == "kept by the backup"
    finally:
        _drop(services, into)


def test_backup_to_a_directory_restores_and_refuses_an_existing_target(
    services: Services, database: Database, tmp_path: Path
) -> None:
    _seed(database)
    backups = Backups(DirectoryStore(tmp_path), "")
    key = backups.take(database.conninfo, "shop", "3_truncate", "down")
    assert (tmp_path / key).stat().st_mode & 0o777 == 0o600

    with pytest.raises(SupastackError, match=rf"database '{database.name}' exists"):
        backups.restore(database.conninfo, key, database.name)
    with pytest.raises(SupastackError, match=r"points outside"):
        backups.restore(database.conninfo, "../../etc/passwd", "x")


def test_a_broken_archive_leaves_no_database_behind(
    services: Services, database: Database, tmp_path: Path
) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "junk.dump").write_bytes(b"PGDMP but not really")
    into = f"restored_{uuid.uuid4().hex[:8]}"
    with pytest.raises(SupastackError, match=r"shop/junk.dump"):
        Backups(DirectoryStore(tmp_path), "").restore(database.conninfo, "shop/junk.dump", into)
    with services.connect() as conn:
        assert (
            conn.execute("select 1 from pg_database where datname = %s", [into]).fetchone() is None
        )


def test_the_supabase_database_restores_without_pg_cron(services: Services, tmp_path: Path) -> None:
    """The local `postgres` database (auth, vault, net, pg_cron) restores into a new database."""
    with services.connect() as conn:
        conn.execute("create extension if not exists pg_cron with schema pg_catalog")
    backups = Backups(DirectoryStore(tmp_path), "")
    key = backups.take(services.dsn(), "all", "0_full", "up")
    into = f"restored_{uuid.uuid4().hex[:8]}"
    try:
        backups.restore(services.dsn(), key, into)
        restored = Database(into, make_conninfo(services.dsn(), dbname=into))
        assert restored.scalar(
            "select to_regprocedure('vault.create_secret(text,text,text,uuid)') is not null"
        )
        assert restored.scalar("select count(*) from pg_extension where extname = 'pg_cron'") == 0
    finally:
        _drop(services, into)


def test_a_failing_dump_does_not_show_the_password(services: Services, tmp_path: Path) -> None:
    password = services.credentials.db_password
    conninfo = make_conninfo(services.dsn(), dbname="no_such_database")
    with pytest.raises(SupastackError, match=r"pg_dump failed") as failure:
        Backups(DirectoryStore(tmp_path), "").take(conninfo, "shop", "1_x", "up")
    assert password not in str(failure.value)
