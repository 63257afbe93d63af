"""``import_`` as the engine supports it: a ``pulumi-postgresql`` resource is read by its id and
taken into the state as it is, nothing run on it; an object that is not there fails naming it.
(A dynamic resource's import fails, as under the engine:
tests/unit/applier/test_engine_fidelity.py.)"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from applier.engine import deploy, preview
from applier.errors import DeployError
from applier.records import IMPORTED
from tests.conftest import project_file
from tests.core.conftest import Database

PROGRAM = """
import json
import pulumi
import pulumi_postgresql as postgresql

given = pulumi.Config("fixture").require_object("db")
pg = postgresql.Provider("pg", host=given["host"], port=int(given["port"]),
                         database=given["dbname"], username=given["user"],
                         password=pulumi.Output.secret(given["password"]), sslmode="disable",
                         superuser=True)
role = postgresql.Role("reporting", name=given["role"], login=True,
                       password=pulumi.Output.secret("not-the-live-one"),
                       opts=pulumi.ResourceOptions(provider=pg, import_=given["role"]))


class Platform:
    outputs = {"role": role.name}


platform = Platform()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    project_file(tmp_path)
    return tmp_path


def _config(database: Database, role: str) -> dict[str, str]:
    given = conninfo_to_dict(database.conninfo)
    return {"fixture:db": json.dumps({**given, "port": given.get("port", 5432), "role": role})}


def test_a_postgres_role_is_imported_as_it_is_and_a_missing_one_is_named(
    database: Database, project: Path
) -> None:
    role = f"{database.name}_reporting"
    with database.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'live'").format(sql.Identifier(role)))
        before = conn.execute("select rolpassword from pg_authid where rolname = %s", [role])
        verifier = before.fetchone()
    try:
        deployment = deploy(_config(database, role), project=project, seed=1)
        [(action, imported)] = [
            (a, r) for a, r in deployment.mocks.actions if r.typ.endswith(":Role")
        ]
        assert (action, imported.id) == (IMPORTED, role)
        with database.connect() as conn:  # nothing run on it: its password is still the live one
            after = conn.execute("select rolpassword from pg_authid where rolname = %s", [role])
            assert after.fetchone() == verifier
    finally:
        with database.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    with pytest.raises(DeployError, match=rf"Role reporting: resource '{role}' does not exist"):
        deploy(_config(database, role), project=project, seed=1)


def test_the_preview_shows_an_import(database: Database, project: Path) -> None:
    plan = preview(_config(database, "any_role"), project=project)
    assert "  =  Role                   reporting  import" in plan.render().splitlines()
