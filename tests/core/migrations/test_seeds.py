"""Seed data against a real database: run once per content, errors named, nothing half-done."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from components.providers.migrations.seeds import SeedDataProvider
from supastack.database.postgres import connect
from supastack.errors import SupastackError
from supastack.migrations import history, seeds
from tests.conftest import outs
from tests.core.conftest import Database


def _write(tmp_path: Path, files: dict[str, str]) -> list[seeds.SeedFile]:
    directory = tmp_path / "seeds" / "shop"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return seeds.discover(tmp_path / "seeds", "shop")


def test_a_seed_runs_once_per_content(database: Database, tmp_path: Path) -> None:
    database.execute("create table public.items (name text)")
    (first,) = _write(tmp_path, {"01_items.sql": "insert into public.items values ('a');\n"})
    assert seeds.apply(database.conninfo, first) is True
    assert seeds.apply(database.conninfo, first) is False  # unchanged: not again
    assert database.scalar("select count(*) from public.items") == 1
    (changed,) = _write(tmp_path, {"01_items.sql": "insert into public.items values ('b');\n"})
    assert seeds.apply(database.conninfo, changed) is True
    assert database.scalar("select count(*) from public.items") == 2


def test_a_failing_seed_names_its_line_and_leaves_nothing(
    database: Database, tmp_path: Path
) -> None:
    database.execute("create table public.items (name text not null)")
    (seed,) = _write(
        tmp_path, {"01_items.sql": "insert into public.items values ('a');\n\n"
                   "insert into public.items values (null);\n"}
    )  # fmt: skip
    with pytest.raises(SupastackError, match=r"seeds/shop/01_items.sql:3: statement 2 failed: "):
        seeds.apply(database.conninfo, seed)
    assert database.scalar("select count(*) from public.items") == 0
    # not even the record table: the file's transaction is all or nothing, so a fixed file runs
    assert database.scalar("select to_regclass('supabase_migrations.supastack_seeds')") is None


def test_seed_files_are_checked_like_migrations(tmp_path: Path) -> None:
    with pytest.raises(SupastackError, match=r"seeds/shop/01_x.sql:1: commit: transaction"):
        _write(tmp_path, {"01_x.sql": "commit;\n"})


def test_the_provider_forgets_a_deleted_seed_and_keeps_its_rows(
    database: Database, tmp_path: Path
) -> None:
    database.execute("create table public.items (name text)")
    (seed,) = _write(tmp_path, {"01_items.sql": "insert into public.items values ('a');\n"})
    props = {
        "conninfo": database.conninfo, "app": "shop", "name": seed.name, "source": seed.source,
        "checksum": seed.checksum, "sql": seed.sql,
    }  # fmt: skip
    provider = SeedDataProvider()
    created = provider.create(props)
    provider.delete(str(created.id), outs(created))
    recorded = "select count(*) from supabase_migrations.supastack_seeds where app = 'shop'"
    assert database.scalar(recorded) == 0
    assert database.scalar("select count(*) from public.items") == 1


def test_seeds_and_migration_history_made_at_once_on_a_fresh_database(
    database: Database, tmp_path: Path
) -> None:
    """The engine applies independent seeds and migrations in parallel: on a database without
    ``supabase_migrations`` they all create it at once, and each one succeeds (``CREATE SCHEMA
    IF NOT EXISTS`` in two sessions at once fails one of them unless serialised)."""
    files = _write(tmp_path, {f"{n:02}_noop.sql": "select 1;\n" for n in range(6)})
    barrier = threading.Barrier(len(files) + 2, timeout=60)  # a guard, never a wait

    def seed(file: seeds.SeedFile) -> bool:
        barrier.wait()
        return seeds.apply(database.conninfo, file)

    def ensure_history() -> bool:
        barrier.wait()
        with connect(database.conninfo) as conn:
            history.ensure(conn)
        return True

    with ThreadPoolExecutor(len(files) + 2) as pool:
        done = [pool.submit(seed, f) for f in files] + [
            pool.submit(ensure_history) for _ in range(2)
        ]
        assert [future.result() for future in done] == [True] * (len(files) + 2)
