"""The engine's ``import_`` of a ``pulumi-postgresql`` resource, as the provider answers it.

The engine calls the provider's ``Read`` with the id the program gives, then diffs what was
read against the program's inputs (``ImportStep`` in the engine's ``step.go``): an object that is
not there fails, in the preview too (``resource '<id>' does not exist``); one whose properties
differ is a warning in the preview and fails the update (``inputs to import do not match the
existing resource: [fields]``), the properties in ``ignore_changes`` left out of the diff; and
nothing is run on the object either way. The ids are the provider's
(terraform-provider-postgresql's importers): a role by its name, a schema and an extension as
``<database>.<name>``. Grants and default privileges cannot be imported (the provider has no
importer for them). Only what the program sets is compared, as the provider's optional,
computed properties are: a schema's owner, an extension's schema and version, a role's login,
attributes (against the provider's defaults), connection limit, memberships and (when it logs
in: the provider reads it back as a superuser) its password. The offline applier reads the
provider's database only."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from applier.dynamic_host import ProviderError
from supastack.database import live_objects
from supastack.database.postgres import connect

#: The provider whose resources are imported: its configuration is where they are read.
PROVIDER = "pulumi:providers:postgresql"

Live = dict[str, Any]


def _qualified(kind: str, import_id: str, database: str) -> str | None:
    """The name in a ``<database>.<name>`` id; None when the database is not the provider's
    (the offline applier reads that one only)."""
    parts = import_id.split(".")
    if len(parts) != 2:
        raise ProviderError(f"{kind} ID {import_id} has not the expected format "
                            f"'database.{kind}'")  # fmt: skip
    return parts[1] if parts[0] == database else None


def _role(conn: psycopg.Connection[Any], import_id: str, _database: str) -> Live | None:
    live = live_objects.role(conn, import_id)
    if live is None:
        return None
    # the provider reads the password back where it can log in (its configuration a superuser)
    password = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [import_id])
    return {
        "login": live.login, "connectionLimit": live.connection_limit,
        "roles": list(live.member_of), "password": (password.fetchone() or [None])[0],
        **{ROLE_PROPERTIES[column]: held for column, held in live.attributes.items()},
    }  # fmt: skip


def _schema(conn: psycopg.Connection[Any], import_id: str, database: str) -> Live | None:
    name = _qualified("schema", import_id, database)
    row = conn.execute(
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", [name]
    ).fetchone()
    return None if row is None else {"owner": row[0], "database": database}


def _extension(conn: psycopg.Connection[Any], import_id: str, database: str) -> Live | None:
    name = _qualified("extension", import_id, database)
    live = None if name is None else live_objects.extension(conn, name)
    return None if live is None else {**live._asdict(), "database": database}


#: The provider's property for each role attribute (:data:`live_objects.ROLE_ATTRIBUTES`).
ROLE_PROPERTIES = {
    "rolsuper": "superuser", "rolcreatedb": "createDatabase", "rolcreaterole": "createRole",
    "rolinherit": "inherit", "rolreplication": "replication",
    "rolbypassrls": "bypassRowLevelSecurity",
}  # fmt: skip

#: How the provider's ``Read`` finds an object of each importable type by its id.
_READS: dict[str, Callable[[psycopg.Connection[Any], str, str], Live | None]] = {
    "postgresql:index/role:Role": _role,
    "postgresql:index/schema:Schema": _schema,
    "postgresql:index/extension:Extension": _extension,
}

#: The inputs the import compares, with the value the provider takes when the program sets none.
_COMPARED: dict[str, Mapping[str, Any]] = {
    "postgresql:index/role:Role": {
        "login": False,
        "connectionLimit": -1,
        "roles": [],
        **{
            ROLE_PROPERTIES[column]: default
            for column, (default, _) in live_objects.ROLE_ATTRIBUTES.items()
        },
    },
    "postgresql:index/schema:Schema": {"owner": None, "database": None},
    "postgresql:index/extension:Extension": {"schema": None, "version": None, "database": None},
}


def provider_conninfo(inputs: Mapping[str, Any]) -> str:
    """Where the postgresql provider connects, from its configuration ("" while a value is not
    known yet, in a preview)."""
    given = {key: inputs.get(key) for key in _PROVIDER_KEYS.values()}
    if not all(isinstance(value, str | int | float) for value in given.values()):
        return ""
    return make_conninfo(**{key: str(given[field]) for key, field in _PROVIDER_KEYS.items()})


#: libpq's keywords and the provider's configuration that gives each.
_PROVIDER_KEYS = {"host": "host", "port": "port", "dbname": "database", "user": "username",
                  "password": "password", "sslmode": "sslmode"}  # fmt: skip


#: What the engine says of an import whose object is not what the program declares.
MISMATCH = "inputs to import do not match the existing resource"


def differing(
    conninfo: str, typ: str, import_id: str, inputs: Mapping[str, Any],
    ignore_changes: Collection[str] = (),
) -> list[str]:  # fmt: skip
    """The provider's ``Read`` of the object and the engine's comparison with the program's
    inputs: the properties that differ (never their values), those in ``ignore_changes`` left
    out as the engine leaves them out. An object that is not there, or an id not in the
    provider's format, fails (in a preview too). Reads only."""
    reader = _READS.get(typ)
    if reader is None:
        raise ProviderError(f"the provider cannot import {typ} (only "
                            f"{', '.join(sorted(_READS))})")  # fmt: skip
    with connect(conninfo) as conn:
        live = reader(conn, import_id, conn.info.dbname)
    if live is None:
        raise ProviderError(f"resource '{import_id}' does not exist")
    found = [
        field
        for field, default in _COMPARED[typ].items()
        if (wanted := inputs.get(field, default)) is not None
        and _normal(wanted) != _normal(live[field])
    ]
    if typ.endswith(":Role") and live["login"] and inputs.get("password") != live["password"]:
        found.append("password")
    return [field for field in found if field not in ignore_changes]


def _normal(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value
