"""Postgres server settings (``postgresSettings`` in app manifests), per target.

Locally: ``ALTER SYSTEM SET`` and a reload, or a restart of the local cluster for settings
Postgres reads only at start. On Supabase, ``ALTER SYSTEM`` is not allowed; the Management API
``config/database/postgres`` takes a fixed set of keys and restarts the database itself when
asked. Either way the recorded values (``postgresql.auto.conf``, or the API's view) are the
baseline against which drift is read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import psycopg
from psycopg import sql

from supastack.database.postgres import Connection, connect
from supastack.errors import SupastackError
from supastack.local.cluster import OWNED_SETTINGS, Cluster
from supastack.platform.management_api import ManagementApi

#: Keys the Management API accepts (UpdatePostgresConfigBody), and those needing a restart.
SUPABASE_KEYS = frozenset(
    {
        "max_connections", "shared_buffers", "work_mem", "maintenance_work_mem",
        "effective_cache_size", "logical_decoding_work_mem", "track_activity_query_size",
        "max_wal_size", "wal_keep_size", "max_slot_wal_keep_size", "max_standby_archive_delay",
        "max_standby_streaming_delay", "statement_timeout", "wal_sender_timeout",
        "checkpoint_timeout", "max_locks_per_transaction", "max_parallel_workers",
        "max_parallel_workers_per_gather", "max_parallel_maintenance_workers",
        "max_worker_processes", "max_replication_slots", "max_wal_senders",
        "session_replication_role", "track_commit_timestamp", "hot_standby_feedback",
    }
)  # fmt: skip
SUPABASE_RESTART_KEYS = frozenset(
    {
        "max_connections", "shared_buffers", "max_locks_per_transaction",
        "max_worker_processes", "max_replication_slots", "max_wal_senders",
        "track_commit_timestamp",
    }
)  # fmt: skip


class SettingsTarget(Protocol):
    """Where settings are applied."""

    def apply(self, values: Mapping[str, str]) -> None: ...

    def reset(self, names: Collection[str]) -> None: ...

    def recorded(self, names: Collection[str]) -> dict[str, str]: ...


def _label(name: str) -> str:
    return f"postgresSettings.{name}"


def _contexts(conn: Connection, names: Collection[str]) -> dict[str, str]:
    """When each setting takes effect (``postmaster``: only at server start)."""
    rows = conn.execute(
        "SELECT name, context FROM pg_settings WHERE name = ANY(%s)", [list(names)]
    ).fetchall()
    return {name: context for name, context in rows}


def _alter(conn: Connection, name: str, value: str | None) -> None:
    """``ALTER SYSTEM SET name = value``, or ``RESET`` for None."""
    if value is None:
        conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
    else:
        conn.execute(
            sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
        )


@dataclass(frozen=True)
class AlterSystemSettings:
    """The local target: ``ALTER SYSTEM``, reload, and a restart when a setting needs one."""

    conninfo: str = field(repr=False)
    cluster: Cluster

    def apply(self, values: Mapping[str, str]) -> None:
        owned = sorted(OWNED_SETTINGS & set(values))
        if owned:
            raise SupastackError(f"{_label(owned[0])}: is managed by the local target")
        before = self.recorded(values)
        previous_file = self.cluster.system_settings()
        with connect(self.conninfo) as conn:
            contexts = _contexts(conn, values)
            unknown = sorted(set(values) - set(contexts))
            if unknown:
                raise SupastackError(f"{_label(unknown[0])}: Postgres has no such setting")
            for name, value in values.items():
                try:
                    _alter(conn, name, value)
                except psycopg.Error as exc:
                    # Leave nothing half-applied: put back what the file said before.
                    for done in values:
                        _alter(conn, done, before.get(done))
                    raise SupastackError(f"{_label(name)}: {exc}") from None
            conn.execute("SELECT pg_reload_conf()")
        at_start = [name for name in values if contexts[name] == "postmaster"]
        if at_start:
            try:
                self.cluster.restart_or_restore(previous_file)
            except SupastackError as failed:
                named = ", ".join(f"{_label(n)} = {values[n]!r}" for n in at_start)
                raise SupastackError(f"{named}: {failed}") from None

    def reset(self, names: Collection[str]) -> None:
        with connect(self.conninfo) as conn:
            contexts = _contexts(conn, names)
            for name in names:
                _alter(conn, name, None)
            conn.execute("SELECT pg_reload_conf()")
        if "postmaster" in contexts.values():
            self.cluster.restart()

    def recorded(self, names: Collection[str]) -> dict[str, str]:
        with connect(self.conninfo) as conn:
            rows = conn.execute(
                "SELECT name, setting FROM pg_file_settings "
                "WHERE sourcefile LIKE '%%/postgresql.auto.conf' AND name = ANY(%s)",
                [list(names)],
            ).fetchall()
        return dict(rows)


@dataclass(frozen=True)
class ManagementApiSettings:
    """The supabase target: the Management API's Postgres config."""

    api: ManagementApi

    def apply(self, values: Mapping[str, str]) -> None:
        unsupported = sorted(set(values) - SUPABASE_KEYS)
        if unsupported:
            raise SupastackError(
                f"{_label(unsupported[0])}: Supabase does not accept this setting through "
                "its Management API"
            )
        body: dict[str, object] = dict(values)
        if SUPABASE_RESTART_KEYS & set(values):
            body["restart_database"] = True
        self.api.update_postgres_config(body)

    def reset(self, names: Collection[str]) -> None:
        """The API has no reset: a removed setting keeps its value until set again."""

    def recorded(self, names: Collection[str]) -> dict[str, str]:
        config = self.api.postgres_config()
        return {name: str(config[name]) for name in names if name in config}
