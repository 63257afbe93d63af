"""``import_`` as the engine supports it: a ``pulumi-postgresql`` resource is read by its id (the
provider's: a role's name, ``<database>.<name>`` for a schema or an extension) and taken into the
state as it is, nothing run on it; an object that is not there, or not what the program
declares, fails naming it.
(A dynamic resource's import fails, as under the engine:
tests/unit/applier/test_engine_fidelity.py.)"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
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
opts = lambda id: pulumi.ResourceOptions(provider=pg, import_=id)
role = postgresql.Role("reporting", name=given["role"], login=given["login"],
                       password=pulumi.Output.secret(given["role_password"]),
                       opts=opts(given["role"]))
schema = postgresql.Schema("reports", name=given["schema"], database=given["dbname"],
                           opts=opts(given["schema_id"]))
extension = postgresql.Extension(
    "crypto", name="pgcrypto", schema=given.get("extension_schema", given["schema"]),
    database=given["dbname"],
    opts=pulumi.ResourceOptions.merge(opts(f"{given['dbname']}.pgcrypto"),
                                      pulumi.ResourceOptions(ignore_changes=given["ignore"])))


class Platform:
    outputs = {"role": role.name}


platform = Platform()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    project_file(tmp_path)
    return tmp_path


def _config(database: Database, role: str, **given: object) -> dict[str, str]:
    params = conninfo_to_dict(database.conninfo)
    schema = f"{database.name}_reports"
    fixture = {
        **params, "port": params.get("port", 5432), "role": role, "login": False,
        "role_password": "unused", "schema": schema,
        "schema_id": f"{params['dbname']}.{schema}", "ignore": [], **given,
    }  # fmt: skip
    return {"fixture:db": json.dumps(fixture)}


@pytest.fixture
def live(database: Database) -> Iterator[tuple[str, str]]:
    """A role (LOGIN, its password set) and a schema holding pgcrypto, made by hand."""
    role, schema = f"{database.name}_reporting", f"{database.name}_reports"
    with database.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'live'").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE EXTENSION pgcrypto SCHEMA {}").format(sql.Identifier(schema)))
    yield role, schema
    with database.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _as_live(database: Database, role: str, **given: object) -> dict[str, str]:
    """The configuration declaring the role as the live one is (it logs in, its verifier)."""
    return _config(database, role, login=True, role_password=_verifier(database, role), **given)


def _verifier(database: Database, role: str) -> str:
    """The role's live password verifier (a secret: never printed)."""
    with database.connect() as conn:
        found = conn.execute("select rolpassword from pg_authid where rolname = %s", [role])
        return str((found.fetchone() or [""])[0])


def test_a_role_schema_and_extension_are_imported_as_they_are_by_the_providers_ids(
    database: Database, project: Path, live: tuple[str, str]
) -> None:
    role, schema = live
    verifier = _verifier(database, role)
    deployment = deploy(_as_live(database, role), project=project, seed=1)
    imported = {r.typ.rsplit(":", 1)[1]: (a, r.id) for a, r in deployment.mocks.actions
                if r.typ.startswith("postgresql:index/")}  # fmt: skip
    dbname = conninfo_to_dict(database.conninfo)["dbname"]
    assert imported == {
        "Role": (IMPORTED, role),
        "Schema": (IMPORTED, f"{dbname}.{schema}"),
        "Extension": (IMPORTED, f"{dbname}.pgcrypto"),
    }
    assert _verifier(database, role) == verifier  # nothing run on it


def test_an_import_whose_inputs_differ_fails_naming_the_fields_never_their_values(
    database: Database, project: Path, live: tuple[str, str]
) -> None:
    """As the engine: the preview warns, the update fails on that resource, nothing run on
    the object; the message names the properties, never their values."""
    role, _ = live
    before = _verifier(database, role)
    config = _config(database, role, login=True, role_password="not-the-live-one")
    plan = preview(config, project=project)
    assert (
        "warning: Role reporting: inputs to import do not match the existing resource: "
        "[password]; importing this resource will fail" in plan.render().splitlines()
    )
    with pytest.raises(DeployError) as failed:
        deploy(config, project=project, seed=1)
    message = str(failed.value)
    assert (
        "Role reporting: inputs to import do not match the existing resource: [password]" in message
    )
    assert "not-the-live-one" not in message and "SCRAM" not in message
    assert _verifier(database, role) == before  # nothing run on it

    with pytest.raises(DeployError, match=r"Role reporting: .*: \[login password\]"):
        deploy(_config(database, role, login=False), project=project, seed=1)

    # the attributes the provider reads back, against its defaults (the program sets none)
    database.execute(f'alter role "{role}" createdb noinherit')
    with pytest.raises(DeployError, match=r"Role reporting: .*: \[createDatabase inherit\]"):
        deploy(_as_live(database, role), project=project, seed=1)


def test_ignore_changes_leaves_a_property_out_of_the_comparison_as_the_engine_does(
    database: Database, project: Path, live: tuple[str, str]
) -> None:
    role, _ = live
    elsewhere = "extensions"  # pgcrypto lives in the test's schema
    with pytest.raises(DeployError, match=r"Extension crypto: .*: \[schema\]"):
        deploy(_as_live(database, role, extension_schema=elsewhere), project=project, seed=1)
    ignoring = _as_live(database, role, extension_schema=elsewhere, ignore=["schema"])
    deployment = deploy(ignoring, project=project)
    assert {a for a, r in deployment.mocks.actions if r.typ.endswith(":Extension")} == {IMPORTED}


def test_a_missing_object_is_named_by_its_resource_and_id(
    database: Database, project: Path
) -> None:
    role = f"{database.name}_absent"
    with pytest.raises(DeployError) as missing:
        deploy(_config(database, role), project=project, seed=1)
    dbname = conninfo_to_dict(database.conninfo)["dbname"]
    ids = {"Role reporting": role, "Schema reports": f"{dbname}.{database.name}_reports",
           "Extension crypto": f"{dbname}.pgcrypto"}  # fmt: skip
    named = re.search(
        r"(\w+ \w+) \(preview\): resource '([^']+)' does not exist", str(missing.value)
    )
    assert named is not None and ids[named.group(1)] == named.group(2)


def test_an_id_not_in_the_providers_format_is_named(
    database: Database, project: Path, live: tuple[str, str]
) -> None:
    role, _ = live
    config = _as_live(database, role, schema_id="reports")
    expected = r"Schema reports \(preview\): schema ID reports has not the expected format"
    with pytest.raises(DeployError, match=rf"{expected} 'database\.schema'"):
        deploy(config, project=project, seed=1)


def test_the_preview_shows_an_import(
    database: Database, project: Path, live: tuple[str, str]
) -> None:
    role, _ = live
    plan = preview(_as_live(database, role), project=project)
    assert "  =  Role                   reporting  import" in plan.render().splitlines()
    assert plan.warnings == []
