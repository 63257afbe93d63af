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
    row = conn.execute(
        "SELECT r.rolcanlogin, r.rolconnlimit, a.rolpassword, r.rolsuper, r.rolcreatedb,"
        " r.rolcreaterole, r.rolinherit, r.rolreplication, r.rolbypassrls,"
        " ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
        "       WHERE m.member = r.oid ORDER BY 1)"
        " FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = %s",
        [import_id],
    ).fetchone()
    if row is None:
        return None
    login, limit, password, *flags, roles = row
    return {"login": login, "connectionLimit": limit, "password": password, "roles": roles,
            **dict(zip(ROLE_FLAGS, flags, strict=True))}  # fmt: skip


def _schema(conn: psycopg.Connection[Any], import_id: str, database: str) -> Live | None:
    name = _qualified("schema", import_id, database)
    row = conn.execute(
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", [name]
    ).fetchone()
    return None if row is None else {"owner": row[0], "database": database}


def _extension(conn: psycopg.Connection[Any], import_id: str, database: str) -> Live | None:
    name = _qualified("extension", import_id, database)
    row = conn.execute(
        "SELECT n.nspname, e.extversion FROM pg_extension e"
        " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = %s",
        [name],
    ).fetchone()
    return None if row is None else {"schema": row[0], "version": row[1], "database": database}


#: The role attributes the provider reads, with its defaults (pg_roles' rolsuper, rolcreatedb,
#: rolcreaterole, rolinherit, rolreplication, rolbypassrls, in that order).
ROLE_FLAGS = {
    "superuser": False, "createDatabase": False, "createRole": False, "inherit": True,
    "replication": False, "bypassRowLevelSecurity": False,
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
        **ROLE_FLAGS,
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
