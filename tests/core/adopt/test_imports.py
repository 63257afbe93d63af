"""Adopt's survey of the declared roles, schemas and extensions (``supastack.adopt.imports``),
against a real database: what is there and as declared is listed for the deploy to import;
what is there and differs is blocking, named with the SQL that makes it as declared; what is
not there is left for the deploy to create. Nothing is changed by the survey."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from supastack.adopt import imports
from supastack.config.manifest import AppManifest
from supastack.config.settings import AdoptImports
from tests.core.conftest import Database


def _survey(database: Database, made_by_hand: str, **declared: object) -> imports.Found:
    """What adopt finds of app ``shop`` declaring ``declared`` after ``made_by_hand`` ran."""
    database.execute(f"create schema if not exists extensions; {made_by_hand}")
    app = AppManifest.model_validate({"app": "shop", "source": "apps/shop.yaml", **declared})
    with database.connect() as conn:
        return imports.survey(conn, [app])


@pytest.fixture
def roles(database: Database) -> Iterator[tuple[str, str, str]]:
    """Three roles a guide made: one as the stack declares it, one that logs in, one whose
    connection limit and BYPASSRLS differ (roles are the cluster's: named after the test's
    database)."""
    made = (f"{database.name}_reader", f"{database.name}_worker", f"{database.name}_batch")
    database.execute(
        f'create role "{made[0]}" nologin; create role "{made[1]}" login '
        f"password 'by-hand'; create role \"{made[2]}\" nologin bypassrls connection limit 3"
    )
    yield made
    database.execute("; ".join(f'drop role "{name}"' for name in made))


def test_what_is_there_as_declared_is_imported_and_the_rest_created(
    database: Database, roles: tuple[str, str, str]
) -> None:
    reader, _, _ = roles
    found = _survey(
        database,
        "create schema shop; create schema partman; create extension pgcrypto schema extensions",
        extensions=["pgcrypto", "citext", "pg_partman"],
        roles=[{"name": reader}, {"name": f"{database.name}_new"}],
    )
    assert found.blocking == []
    assert found.imports == AdoptImports(
        roles=[reader], schemas=["partman", "shop"], extensions=["pgcrypto"]
    )  # citext, pg_partman and the new role are not there: the deploy creates them


def test_a_role_that_logs_in_or_differs_and_an_extension_of_another_version_block(
    database: Database, roles: tuple[str, str, str]
) -> None:
    _, worker, batch = roles
    found = _survey(
        database,
        "create extension pgcrypto schema extensions",
        extensions=[{"name": "pgcrypto", "version": "0.9"}],
        roles=[{"name": worker, "login": True}, {"name": batch, "memberOf": ["pg_monitor"]}],
    )
    version = database.scalar("select extversion from pg_extension where extname = 'pgcrypto'")
    assert found.imports == AdoptImports()
    assert found.blocking == [
        f"role {worker} exists and can log in: the stack sets the password of a role that logs "
        "in, which an import of the live one cannot (its password differs); rename it (ALTER "
        f'ROLE "{worker}" RENAME TO "{worker}_by_hand";) or drop it, then run adopt again',
        f'role {batch} exists and differs from the declared one: ALTER ROLE "{batch}" '
        f'NOBYPASSRLS; ALTER ROLE "{batch}" CONNECTION LIMIT -1; GRANT "pg_monitor" TO '
        f'"{batch}";',
        f"extension pgcrypto is version {version}, the stack declares 0.9: ALTER EXTENSION "
        "\"pgcrypto\" UPDATE TO '0.9';",
    ]
    assert "by-hand" not in "\n".join(found.blocking)
