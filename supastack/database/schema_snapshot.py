"""A normalised snapshot of some schemas, read from the catalogs, and the SQL between two.

Each object of the schemas (tables, columns, constraints, indexes, functions, triggers, views,
materialized views, enum types, sequences, row level security, policies, grants, default
privileges, publication membership) becomes one entry: its kind, its name, a definition that
compares equal across databases (Postgres's own ``pg_get_*def`` output: no OIDs, every name
qualified and quoted), and the statements that create and remove it. :func:`difference` turns
two snapshots into the statements that bring the first to the second.

Why the catalogs rather than a schema-diff tool: migra and its schemainspect are archived,
pg-schema-diff (Stripe) is a Go binary no registry here ships, and ``pg_dump`` refuses a server
newer than itself (Supabase runs newer majors than Debian's 15). The catalogs answer the same
questions on every version, and the SQL comes from the server's own deparsers.

Partitions are storage of their parent (pg_partman makes and retires them by date), so
partitions, the tables retention detached from a declared parent (``<parent>_p...``), and
everything on them are left out; so is whatever belongs to an extension.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from psycopg import sql

from supastack.database.postgres import Connection

#: The order statements run in: what others depend on first (drops run in reverse).
KINDS = (
    "schema grant", "type", "sequence", "table", "column", "constraint", "index", "function",
    "view", "materialized view", "trigger", "rls", "policy", "grant", "default privilege",
    "publication",
)  # fmt: skip

#: Roles whose grants are the platform's, not the app's (Supabase's own superuser).
PLATFORM_GRANTEES = ("supabase_admin",)


@dataclass(frozen=True)
class SchemaObject:
    """One object as the catalogs describe it."""

    kind: str
    name: str
    definition: str
    create: str
    drop: str
    replaceable: bool = False
    """``create`` replaces a changed definition in place (CREATE OR REPLACE)."""
    parent: str | None = None
    """The table it belongs to (columns, constraints, ...): dropping the table drops it."""


Snapshot = dict[tuple[str, str], SchemaObject]

# Relations left out: partitions, and tables named like a declared parent's partitions.
_RELATION_FILTER = """
    n.nspname = ANY(%(schemas)s) AND NOT c.relispartition
    AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
    AND NOT EXISTS (SELECT FROM unnest(%(partitioned)s::text[]) AS p(parent)
                    CROSS JOIN LATERAL (SELECT replace(p.parent, '_', '\\_') AS pattern) e
                    WHERE n.nspname || '.' || c.relname LIKE e.pattern || '\\_p%%'
                       OR n.nspname || '.' || c.relname = p.parent || '_default')
"""

_QUERIES: dict[str, str] = {
    "type": """
        SELECT format('%%I.%%I', n.nspname, t.typname),
               string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder),
               format('CREATE TYPE %%I.%%I AS ENUM (%%s)', n.nspname, t.typname,
                      string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)),
               format('DROP TYPE %%I.%%I', n.nspname, t.typname), false, NULL
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = ANY(%(schemas)s) GROUP BY n.nspname, t.typname""",
    "sequence": """
        SELECT format('%%I.%%I', n.nspname, c.relname),
               format('%%s %%s %%s %%s %%s', s.seqtypid::regtype, s.seqincrement, s.seqmin,
                      s.seqmax, s.seqcycle),
               format('CREATE SEQUENCE %%I.%%I AS %%s INCREMENT %%s MINVALUE %%s MAXVALUE %%s',
                      n.nspname, c.relname, s.seqtypid::regtype, s.seqincrement, s.seqmin,
                      s.seqmax),
               format('DROP SEQUENCE %%I.%%I', n.nspname, c.relname), false, NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_sequence s ON s.seqrelid = c.oid
        WHERE c.relkind = 'S' AND {relations}
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid
                          AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))""",
    "table": """
        SELECT format('%%I.%%I', n.nspname, c.relname),
               coalesce('PARTITION BY ' || pg_get_partkeydef(c.oid), ''),
               format('CREATE TABLE %%I.%%I ()%%s', n.nspname, c.relname,
                      coalesce(' PARTITION BY ' || pg_get_partkeydef(c.oid), '')),
               format('DROP TABLE %%I.%%I', n.nspname, c.relname), false, NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {relations}""",
    "column": """
        SELECT format('%%I.%%I.%%I', n.nspname, c.relname, a.attname),
               concat_ws(chr(31), x.type, x.not_null, x.identity, x.default_),
               format('ALTER TABLE %%I.%%I ADD COLUMN %%I %%s', n.nspname, c.relname, a.attname,
                      concat_ws(' ', x.type, nullif(x.not_null, ''), nullif(x.identity, ''),
                                nullif(x.default_, ''))),
               format('ALTER TABLE %%I.%%I DROP COLUMN %%I', n.nspname, c.relname, a.attname),
               false, format('%%I.%%I', n.nspname, c.relname)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        CROSS JOIN LATERAL (SELECT format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE '' END AS not_null,
            CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY'
                 WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' ELSE '' END AS identity,
            CASE WHEN a.attgenerated = 's'
                 THEN 'GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                 WHEN d.adbin IS NOT NULL THEN 'DEFAULT ' || pg_get_expr(d.adbin, d.adrelid)
                 ELSE '' END AS default_) x
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
          AND {relations}""",
    "constraint": """
        SELECT format('%%I.%%I.%%I', n.nspname, c.relname, k.conname),
               pg_get_constraintdef(k.oid),
               format('ALTER TABLE %%I.%%I ADD CONSTRAINT %%I %%s', n.nspname, c.relname,
                      k.conname, pg_get_constraintdef(k.oid)),
               format('ALTER TABLE %%I.%%I DROP CONSTRAINT %%I', n.nspname, c.relname, k.conname),
               false, format('%%I.%%I', n.nspname, c.relname)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conparentid = 0 AND {relations}""",
    "index": """
        SELECT format('%%I.%%I', n.nspname, ic.relname), pg_get_indexdef(i.indexrelid),
               pg_get_indexdef(i.indexrelid), format('DROP INDEX %%I.%%I', n.nspname, ic.relname),
               false, format('%%I.%%I', n.nspname, c.relname)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
          AND NOT ic.relispartition AND {relations}""",
    "function": """
        SELECT format('%%I.%%I(%%s)', n.nspname, p.proname,
                      pg_get_function_identity_arguments(p.oid)),
               pg_get_functiondef(p.oid), pg_get_functiondef(p.oid),
               format('DROP %%s %%I.%%I(%%s)', CASE p.prokind WHEN 'p' THEN 'PROCEDURE'
                      ELSE 'FUNCTION' END, n.nspname, p.proname,
                      pg_get_function_identity_arguments(p.oid)),
               true, NULL
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY(%(schemas)s) AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')""",
    "view": """
        SELECT format('%%I.%%I', n.nspname, c.relname),
               concat_ws(' ', array_to_string(c.reloptions, ','), pg_get_viewdef(c.oid)),
               format('CREATE OR REPLACE VIEW %%I.%%I%%s AS %%s', n.nspname, c.relname,
                      coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', ''),
                      pg_get_viewdef(c.oid)),
               format('DROP VIEW %%I.%%I', n.nspname, c.relname), true, NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'v' AND {relations}""",
    "materialized view": """
        SELECT format('%%I.%%I', n.nspname, c.relname), pg_get_viewdef(c.oid),
               format('CREATE MATERIALIZED VIEW %%I.%%I AS %%s', n.nspname, c.relname,
                      rtrim(pg_get_viewdef(c.oid), ';')),
               format('DROP MATERIALIZED VIEW %%I.%%I', n.nspname, c.relname), false, NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'm' AND {relations}""",
    "trigger": """
        SELECT format('%%I.%%I.%%I', n.nspname, c.relname, t.tgname), pg_get_triggerdef(t.oid),
               pg_get_triggerdef(t.oid),
               format('DROP TRIGGER %%I ON %%I.%%I', t.tgname, n.nspname, c.relname),
               false, format('%%I.%%I', n.nspname, c.relname)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND {relations}""",
    "rls": """
        SELECT format('%%I.%%I', n.nspname, c.relname),
               CASE WHEN c.relforcerowsecurity THEN 'enabled, forced' ELSE 'enabled' END,
               format('ALTER TABLE %%I.%%I ENABLE ROW LEVEL SECURITY', n.nspname, c.relname)
               || CASE WHEN c.relforcerowsecurity
                       THEN format('; ALTER TABLE %%I.%%I FORCE ROW LEVEL SECURITY',
                                   n.nspname, c.relname) ELSE '' END,
               format('ALTER TABLE %%I.%%I DISABLE ROW LEVEL SECURITY', n.nspname, c.relname),
               false, format('%%I.%%I', n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND {relations}""",
    "policy": """
        SELECT format('%%I.%%I.%%I', n.nspname, c.relname, p.polname),
               concat_ws(' ', CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                         p.polcmd, r.roles, pg_get_expr(p.polqual, p.polrelid),
                         pg_get_expr(p.polwithcheck, p.polrelid)),
               format('CREATE POLICY %%I ON %%I.%%I AS %%s FOR %%s TO %%s%%s%%s', p.polname,
                      n.nspname, c.relname,
                      CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                      CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                                    WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                      r.roles,
                      coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', ''),
                      coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')',
                               '')),
               format('DROP POLICY %%I ON %%I.%%I', p.polname, n.nspname, c.relname),
               false, format('%%I.%%I', n.nspname, c.relname)
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL (
            SELECT string_agg(CASE WHEN role = 0 THEN 'PUBLIC' ELSE quote_ident(role::regrole::text)
                              END, ', ' ORDER BY role::regrole::text) AS roles
            FROM unnest(p.polroles) AS role) r
        WHERE {relations}""",
    "grant": """
        SELECT format('%%s %%s to %%s: %%s', o.label, o.name, g.grantee, a.privilege_type),
               CASE WHEN a.is_grantable THEN 'WITH GRANT OPTION' ELSE '' END,
               format('GRANT %%s ON %%s %%s TO %%s%%s', a.privilege_type, o.kind, o.name,
                      g.grantee, CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END),
               format('REVOKE %%s ON %%s %%s FROM %%s', a.privilege_type, o.kind, o.name,
                      g.grantee),
               false, o.parent
        FROM (
            SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
                   CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                  WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS label,
                   format('%%I.%%I', n.nspname, c.relname) AS name,
                   coalesce(c.relacl, acldefault(
                       (CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner)
                   ) AS acl,
                   c.relowner AS owner, format('%%I.%%I', n.nspname, c.relname) AS parent
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {relations}
            UNION ALL
            SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                   CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                   format('%%I.%%I(%%s)', n.nspname, p.proname,
                          pg_get_function_identity_arguments(p.oid)),
                   coalesce(p.proacl, acldefault('f'::"char", p.proowner)), p.proowner, NULL
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = ANY(%(schemas)s) AND p.prokind IN ('f', 'p')
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                              AND d.objid = p.oid AND d.deptype = 'e')
        ) o
        CROSS JOIN LATERAL aclexplode(o.acl) a
        CROSS JOIN LATERAL (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                            ELSE quote_ident(a.grantee::regrole::text) END AS grantee) g
        WHERE a.grantee <> o.owner
          AND (a.grantee = 0 OR a.grantee::regrole::text <> ALL(%(platform)s))""",
    "schema grant": """
        SELECT format('SCHEMA %%I to %%s: %%s', n.nspname, g.grantee, a.privilege_type), '',
               format('GRANT %%s ON SCHEMA %%I TO %%s', a.privilege_type, n.nspname, g.grantee),
               format('REVOKE %%s ON SCHEMA %%I FROM %%s', a.privilege_type, n.nspname,
                      g.grantee),
               false, NULL
        FROM pg_namespace n
        CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) a
        CROSS JOIN LATERAL (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                            ELSE quote_ident(a.grantee::regrole::text) END AS grantee) g
        WHERE n.nspname = ANY(%(schemas)s) AND a.grantee <> n.nspowner
          AND (a.grantee = 0 OR a.grantee::regrole::text <> ALL(%(platform)s))""",
    "default privilege": """
        SELECT format('%%s in %%I: %%s to %%s: %%s', d.defaclrole::regrole, n.nspname,
                      k.kind, g.grantee, a.privilege_type), '',
               format('ALTER DEFAULT PRIVILEGES FOR ROLE %%s IN SCHEMA %%I GRANT %%s ON %%s TO %%s',
                      quote_ident(d.defaclrole::regrole::text), n.nspname, a.privilege_type,
                      k.kind, g.grantee),
               format('ALTER DEFAULT PRIVILEGES FOR ROLE %%s IN SCHEMA %%I REVOKE %%s ON %%s '
                      'FROM %%s', quote_ident(d.defaclrole::regrole::text), n.nspname,
                      a.privilege_type, k.kind, g.grantee),
               false, NULL
        FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
        CROSS JOIN LATERAL (SELECT CASE d.defaclobjtype WHEN 'r' THEN 'TABLES'
            WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES'
            ELSE 'SCHEMAS' END AS kind) k
        CROSS JOIN LATERAL aclexplode(d.defaclacl) a
        CROSS JOIN LATERAL (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                            ELSE quote_ident(a.grantee::regrole::text) END AS grantee) g
        WHERE n.nspname = ANY(%(schemas)s)
          AND d.defaclrole::regrole::text <> ALL(%(platform)s)""",
    "publication": """
        SELECT format('%%I: %%I.%%I', p.pubname, n.nspname, c.relname), '',
               format('ALTER PUBLICATION %%I ADD TABLE %%I.%%I', p.pubname, n.nspname, c.relname),
               format('ALTER PUBLICATION %%I DROP TABLE %%I.%%I', p.pubname, n.nspname,
                      c.relname),
               false, format('%%I.%%I', n.nspname, c.relname)
        FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
        JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {relations}""",
}  # fmt: skip


def snapshot(conn: Connection, schemas: Sequence[str], partitioned: Iterable[str] = ()) -> Snapshot:
    """Every object of ``schemas``; ``partitioned`` lists the ``schema.table`` parents whose
    partitions (and detached partitions) are left out."""
    params = {
        "schemas": list(schemas),
        "partitioned": sorted(partitioned),
        "platform": list(PLATFORM_GRANTEES),
    }
    found: Snapshot = {}
    for kind in KINDS:
        query = sql.SQL(_QUERIES[kind]).format(relations=sql.SQL(_RELATION_FILTER))
        for name, definition, create, drop, replaceable, parent in conn.execute(query, params):
            found[(kind, name)] = SchemaObject(
                kind, name, definition, create, drop, bool(replaceable), parent
            )
    return found


@dataclass(frozen=True)
class Difference:
    """One object that differs, and the statements that make ``live`` what is expected."""

    kind: str
    name: str
    change: str
    """``missing`` (expected, not live), ``unexpected`` (live only) or ``changed``."""
    statements: tuple[str, ...]

    def __str__(self) -> str:
        return f"-- {self.kind} {self.name}: {self.change}\n" + "".join(
            f"{s.rstrip().rstrip(';')};\n" for s in self.statements
        )


def _column_alter(live: SchemaObject, expected: SchemaObject) -> tuple[str, ...]:
    """A changed column is altered, not dropped and added (that would lose its data)."""
    table, column = expected.name.rsplit(".", 1)
    head = f"ALTER TABLE {table} ALTER COLUMN {column}"
    was_type, was_null, was_identity, was_default = live.definition.split(_SEPARATOR)
    new_type, new_null, new_identity, new_default = expected.definition.split(_SEPARATOR)
    statements = []
    if was_type != new_type:
        statements.append(f"{head} TYPE {new_type}")
    if was_null != new_null:
        statements.append(f"{head} {'SET' if new_null else 'DROP'} NOT NULL")
    if was_default != new_default and not new_default.startswith("GENERATED"):
        default = new_default.removeprefix("DEFAULT ")
        statements.append(f"{head} SET DEFAULT {default}" if default else f"{head} DROP DEFAULT")
    if was_identity != new_identity or new_default.startswith("GENERATED"):
        statements.append(
            f"-- {column}: live is {_shown(live)}, expected {_shown(expected)}; identity and "
            "generated columns are changed by hand"
        )
    return tuple(statements)


#: Separates a column's type, NOT NULL, identity and default in its definition.
_SEPARATOR = chr(31)


def _shown(column: SchemaObject) -> str:
    return " ".join(part for part in column.definition.split(_SEPARATOR) if part)


def difference(
    live: Mapping[tuple[str, str], SchemaObject], expected: Snapshot
) -> list[Difference]:
    """What differs, in the order its statements can run: drops of what is unexpected (the
    dependent first), then creates and changes (what others depend on first)."""
    dropped_tables = {
        name for (kind, name) in live if kind == "table" and (kind, name) not in expected
    }
    created_tables = {
        name for (kind, name) in expected if kind == "table" and (kind, name) not in live
    }
    drops = [
        Difference(obj.kind, obj.name, "unexpected", (obj.drop,))
        for key, obj in live.items()
        if key not in expected and obj.parent not in dropped_tables
    ]
    drops.sort(key=lambda d: -KINDS.index(d.kind))
    changes = []
    for key, obj in expected.items():
        found = live.get(key)
        if found is None:
            changes.append(Difference(obj.kind, obj.name, "missing", (obj.create,)))
        elif found.definition != obj.definition and obj.parent not in created_tables:
            if obj.kind == "column":
                statements = _column_alter(found, obj)
            elif obj.replaceable:
                statements = (obj.create,)
            else:
                statements = (found.drop, obj.create)
            changes.append(Difference(obj.kind, obj.name, "changed", statements))
    changes.sort(key=lambda d: KINDS.index(d.kind))
    return drops + changes
