"""What the live database holds beside what the stack declares, where keeping it would weaken
what the stack promises.

- Every RLS policy on a table of an app's schema is the stack's. Permissive policies are OR-ed,
  so a hand-made one left beside the stack's (a guide's policy under another name, say) widens
  who reads the table; a restrictive one changes what the stack's policies allow. Either is a
  difference to resolve, with the ``DROP POLICY`` that leaves the stack's alone.
- Every extension the stack declares lives in the schema it declares: functions resolved through
  another schema are not the ones the apps' SQL calls (``ALTER EXTENSION ... SET SCHEMA``). An
  extension that puts nothing in that schema (pg_cron: all of it is in ``cron``) is not flagged.

Adoption refuses to report success while any is left, and ``supastack db advisors`` and smoke
flag them on every stack (:mod:`supastack.database.advisors`).
"""

# The queries are assembled from this module's constant fragments, never from input.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from psycopg import sql

from supastack.config.manifest import AppManifest, merged_extensions
from supastack.database.postgres import connect
from supastack.delivery.outputs import DeclaredOutput


@dataclass(frozen=True)
class Declared:
    """The app schemas, their policies ``(schema, table, name)`` and the extensions' schemas."""

    schemas: frozenset[str] = frozenset()
    policies: frozenset[tuple[str, str, str]] = frozenset()
    extensions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_manifests(cls, manifests: Iterable[AppManifest]) -> Declared:
        listed = list(manifests)
        return cls(
            schemas=frozenset(m.schema_name for m in listed),
            policies=frozenset(
                (m.schema_name, p.table, p.name) for m in listed for p in m.policies
            ),
            extensions={e.name: e.schema_name for e in merged_extensions(listed)},
        )

    def as_output(self) -> dict[str, object]:
        """The stack output smoke reads it back from (:meth:`of_output`)."""
        return {
            "schemas": sorted(self.schemas),
            "policies": [list(p) for p in sorted(self.policies)],
            "extensions": dict(sorted(self.extensions.items())),
        }

    @classmethod
    def of_output(cls, given: DeclaredOutput) -> Declared:
        return cls(
            frozenset(given.schemas),
            frozenset((s, t, n) for s, t, n in given.policies),
            dict(given.extensions),
        )


@dataclass(frozen=True)
class Undeclared:
    """One object to resolve: what it is, why it matters, and the SQL that resolves it."""

    kind: str
    object: str
    detail: str
    remedy: str


_POLICIES = (
    "SELECT schemaname::text, tablename::text, policyname::text, permissive::text, cmd::text, "
    "roles::text[] FROM pg_catalog.pg_policies WHERE schemaname = ANY(%s) "
    "ORDER BY 1, 2, 3"
)
#: Whether extension ``e`` put a function, relation or type in its own schema. pg_cron, say,
#: puts everything in ``cron``: the schema it was created "in" holds nothing of it, so which
#: one that is changes nothing anyone calls (and moving it means dropping it, and its jobs).
EXTENSION_USES_ITS_SCHEMA = (
    "EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.refclassid = "
    "'pg_catalog.pg_extension'::regclass AND d.refobjid = e.oid AND d.deptype = 'e' AND ("
    "(d.classid = 'pg_catalog.pg_proc'::regclass AND EXISTS (SELECT FROM pg_catalog.pg_proc x "
    "WHERE x.oid = d.objid AND x.pronamespace = e.extnamespace)) OR "
    "(d.classid = 'pg_catalog.pg_class'::regclass AND EXISTS (SELECT FROM pg_catalog.pg_class x "
    "WHERE x.oid = d.objid AND x.relnamespace = e.extnamespace)) OR "
    "(d.classid = 'pg_catalog.pg_type'::regclass AND EXISTS (SELECT FROM pg_catalog.pg_type x "
    "WHERE x.oid = d.objid AND x.typnamespace = e.extnamespace))))"
)
_EXTENSIONS = (
    "SELECT e.extname::text, n.nspname::text, e.extrelocatable FROM pg_catalog.pg_extension e "
    "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ANY(%s) "
    f"AND {EXTENSION_USES_ITS_SCHEMA} ORDER BY 1"
)


def undeclared(conninfo: str, declared: Declared) -> list[Undeclared]:
    """The policies on the apps' tables the stack does not declare, and the declared
    extensions living in another schema (read only; nothing is changed)."""
    found: list[Undeclared] = []
    with connect(conninfo, subject="declared objects") as conn:
        policies = conn.execute(_POLICIES, [sorted(declared.schemas)]).fetchall()
        extensions = conn.execute(_EXTENSIONS, [sorted(declared.extensions)]).fetchall()
        for schema, table, name, permissive, command, roles in policies:
            if (schema, table, name) in declared.policies:
                continue
            effect = (
                "permissive: OR-ed with the stack's, it widens what they allow"
                if permissive == "PERMISSIVE"
                else "restrictive: it narrows what the stack's policies allow"
            )
            drop = sql.SQL("DROP POLICY {} ON {};").format(
                sql.Identifier(name), sql.Identifier(schema, table)
            )
            found.append(Undeclared(
                "policy", f"{schema}.{table}: {name}",
                f"not declared by the stack ({command} to {', '.join(roles)}; {effect})",
                drop.as_string(conn),
            ))  # fmt: skip
        for name, schema, relocatable in extensions:
            home = declared.extensions[name]
            if schema == home:
                continue
            move = sql.SQL("ALTER EXTENSION {} SET SCHEMA {};").format(
                sql.Identifier(name), sql.Identifier(home)
            )
            detail = f"lives in schema {schema}, the stack declares {home}"
            if not relocatable:  # only dropped and created again: what depends on it goes too
                detail += " (not relocatable: save what depends on it first)"
                move = sql.SQL("DROP EXTENSION {}; CREATE EXTENSION {} SCHEMA {};").format(
                    sql.Identifier(name), sql.Identifier(name), sql.Identifier(home)
                )
            found.append(Undeclared("extension", name, detail, move.as_string(conn)))
    return found
