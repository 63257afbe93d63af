"""The live roles, schemas and extensions a first deploy imports instead of creating.

They are ``pulumi-postgresql`` resources, which the engine imports (``import_``): it reads the
object by the provider's id and fails the import when what it read is not what the program
declares. Adopt therefore lists for import only what is there and as declared; a declared
object that is there and differs is blocking, named with the properties that differ and the
SQL that makes it as declared (never run by adopt). A role that can log in is blocking too: the
stack sets its password (a generated one, a SCRAM verifier), the live one differs, and an import
cannot keep one and declare the other. An extension in another schema is already blocking
(:mod:`supastack.database.declared`); it is imported once moved. pg_cron is imported where it
lives (a guide's is in ``public``): all of it is in ``cron`` whatever its schema, it cannot
move without losing its jobs, and the program ignores its schema (``ignore_changes``), which
the engine's import comparison honours. Grants and default privileges
have no import in the provider: their create revokes and grants in one transaction, which takes
over what the guide granted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from supastack.config.manifest import AppManifest, merged_extensions
from supastack.config.settings import AdoptImports
from supastack.database import live_objects
from supastack.database.specs import PINNED_SCHEMAS, PLATFORM_SCHEMAS, RoleSpec


@dataclass
class Found:
    """What the deploy imports, and what blocks it (a line each, with the SQL)."""

    imports: AdoptImports = field(default_factory=AdoptImports)
    blocking: list[str] = field(default_factory=list)


def survey(conn: psycopg.Connection[Any], manifests: Sequence[AppManifest]) -> Found:
    """Read the declared roles, schemas and extensions as they are live (nothing changed)."""
    listed = list(manifests)
    found = Found()
    roles: list[str] = []
    for role in (role for manifest in listed for role in manifest.roles):
        blocking = _role(conn, role)
        if blocking is None:
            roles.append(role.name)
        elif blocking:
            found.blocking.append(blocking)
    extensions: list[str] = []
    for extension in merged_extensions(listed):
        live = live_objects.extension(conn, extension.name)
        if live is None:
            continue  # made by the deploy
        if live.schema != extension.schema_name and extension.name not in PINNED_SCHEMAS:
            continue  # blocking already (supastack.database.declared), imported once moved
        if extension.version and live.version != extension.version:
            found.blocking.append(
                f"extension {extension.name} is version {live.version}, the stack declares "
                f"{extension.version}: ALTER EXTENSION {_quoted(conn, extension.name)} UPDATE TO "
                f"{sql.Literal(extension.version).as_string(conn)};"
            )
        else:
            extensions.append(extension.name)
    declared = {m.schema_name for m in listed if m.owns_schema} | {
        e.schema_name for e in merged_extensions(listed) if e.schema_name not in PLATFORM_SCHEMAS
    }
    live_schemas = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [sorted(declared)]
    ).fetchall()
    found.imports = AdoptImports(
        roles=sorted(roles),
        schemas=sorted(name for (name,) in live_schemas),
        extensions=sorted(extensions),
    )
    return found


def _role(conn: psycopg.Connection[Any], role: RoleSpec) -> str | None:
    """None: import it; "": not there (the deploy makes it); else what blocks, with the SQL."""
    live = live_objects.role(conn, role.name)
    if live is None:
        return ""
    name, renamed = _quoted(conn, role.name), _quoted(conn, f"{role.name}_by_hand")
    if live.login or role.login:
        return (f"role {role.name} exists{' and can log in' if live.login else ''}: the stack sets "
                "the password of a role that logs in, which an import of the live one cannot "
                f"(its password differs); rename it (ALTER ROLE {name} RENAME TO {renamed};) "
                "or drop it, then run adopt again")  # fmt: skip
    fixes = []
    if clauses := live.attributes_not_default():
        fixes.append(f"ALTER ROLE {name} {' '.join(clauses)};")
    if live.connection_limit != role.connection_limit:
        fixes.append(f"ALTER ROLE {name} CONNECTION LIMIT {role.connection_limit};")
    declared, held = set(role.member_of), set(live.member_of)
    fixes += [f"GRANT {_quoted(conn, g)} TO {name};" for g in sorted(declared - held)]
    fixes += [f"REVOKE {_quoted(conn, g)} FROM {name};" for g in sorted(held - declared)]
    if not fixes:
        return None
    return f"role {role.name} exists and differs from the declared one: {' '.join(fixes)}"


def _quoted(conn: psycopg.Connection[Any], name: str) -> str:
    return sql.Identifier(name).as_string(conn)
