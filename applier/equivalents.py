"""Small documented equivalents of the resources the offline applier cannot run through a
provider plugin: ``postgresql.*`` as SQL (extension, schema, role, grant, default privileges)
and ``random.*`` from ``secrets``."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Literal

from psycopg import sql

from supastack.database.privileges import PrivilegeStep, step_statements
from supastack.database.specs import ExtensionSpec

Outputs = dict[str, Any]


def _step(inputs: Mapping[str, Any], scope: Literal["existing", "future"]) -> PrivilegeStep:
    """A postgresql.Grant or DefaultPrivileges resource's inputs as the step they came from."""
    return PrivilegeStep(
        label="", scope=scope, role=inputs["role"], object_type=inputs["objectType"],
        privileges=list(inputs.get("privileges") or []), objects=list(inputs.get("objects") or []),
        owner=inputs.get("owner") or "postgres",
    )  # fmt: skip


def _grant(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    """postgresql.Grant: exactly the listed privileges on a schema or its objects."""
    return step_statements(_step(inputs, "existing"), inputs["schema"])


def _default_privileges(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    return step_statements(_step(inputs, "future"), inputs["schema"])


def _role(inputs: Mapping[str, Any]) -> list[sql.Composed]:
    name = sql.Identifier(inputs["name"])
    login = sql.SQL("LOGIN" if inputs.get("login") else "NOLOGIN")
    statements: list[sql.Composed] = [
        sql.SQL("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN "
                "CREATE ROLE {}; END IF; END $$").format(sql.Literal(inputs["name"]), name),
        sql.SQL("ALTER ROLE {} {} PASSWORD {}").format(
            name, login, sql.Literal(inputs.get("password"))
        ),
    ]  # fmt: skip
    statements += [
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(member), name)
        for member in inputs.get("roles") or []
    ]
    return statements


#: postgresql resources and their SQL equivalents.
SQL_EQUIVALENTS: dict[str, Callable[[Mapping[str, Any]], list[sql.Composed]]] = {
    "postgresql:index/extension:Extension": lambda i: ExtensionSpec(
        name=i["name"], schema_=i["schema"]
    ).create_statements(),
    "postgresql:index/schema:Schema": lambda i: [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(i["name"]))
    ],
    "postgresql:index/role:Role": _role,
    "postgresql:index/grant:Grant": _grant,
    "postgresql:index/defaultPrivileges:DefaultPrivileges": _default_privileges,
}


def _random_password(inputs: Mapping[str, Any]) -> Outputs:
    length = int(inputs.get("length", 32))  # numbers cross the wire as floats
    return {"result": secrets.token_urlsafe(length)[:length]}


def _random_id(inputs: Mapping[str, Any]) -> Outputs:
    made = secrets.token_bytes(int(inputs["byteLength"]))
    return {"b64Std": base64.b64encode(made).decode(), "hex": made.hex()}


#: pulumi-random resources and what they make.
RANDOM_EQUIVALENTS: dict[str, Callable[[Mapping[str, Any]], Outputs]] = {
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
}

#: Outputs the providers' own schemas mark secret (the engine keeps them secret in state
#: whether or not the program asks).
SECRET_BY_SCHEMA: dict[str, tuple[str, ...]] = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "postgresql:index/role:Role": ("password",),
    "pulumi:providers:postgresql": ("password",),
}
