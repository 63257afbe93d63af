"""The shop app's migration files that the migration engine's tests apply, and what the engine
says of them."""

from __future__ import annotations

from pathlib import Path

from supastack.migrations.engine import MigrationEngine
from supastack.migrations.files import MigrationFile, discover_app
from supastack.migrations.states import State
from tests.conftest import write_migrations

APP = "shop"
FIRST = "create schema shop;\ncreate table shop.items (id bigint primary key, name text);\n"
SECOND = (
    "alter table shop.items add column price numeric;\ninsert into shop.items values (1, 'a', 2);\n"
)


def shop_files(tmp_path: Path, files: dict[str, str]) -> list[MigrationFile]:
    return discover_app(write_migrations(tmp_path, APP, files), APP)


def states_of(engine: MigrationEngine, files: list[MigrationFile]) -> dict[str, State]:
    return {e.version: e.state for e in engine.status(APP, files)}
