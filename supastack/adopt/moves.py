"""An app whose tables a guide made in ``public`` (the SQL editor's default) while the app keeps
them in a schema of its own: the migration that moves them there, rows and all.

``ALTER TABLE ... SET SCHEMA`` moves a table with its rows, indexes, constraints, triggers,
policies, privileges and the sequences its columns own, in place (no copy, a brief
``ACCESS EXCLUSIVE`` lock); a partitioned table's partitions are moved one by one beside it
and closed as the stack closes every partition (row level security, no privileges but the
owner's: reachable only through the parent), and pg_partman's registration follows its parent.
Under each moved table's old name a view stays (``security_invoker``: the caller's privileges
and the table's RLS apply, as before) with the table's privileges, and the roles that held any
get ``USAGE`` on the app's schema, so what still reads the old name (functions deployed by
hand, clients) keeps working until it is redeployed; those views are listed with the
statement that removes them afterwards. The guide's functions and views stay where they are:
the app's own are made in its schema by the differences adopt shows next (the guide's still
answer meanwhile).
"""

# The statements are assembled with psycopg.sql from names read from the catalog.
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pglast import ast
from psycopg import sql

from supastack.config.manifest import AppManifest
from supastack.database import sqltext
from supastack.database.partitions import API_ROLES
from supastack.database.postgres import Connection
from supastack.database.privileges import table_privileges
from supastack.migrations.files import MigrationFile

#: Where the guides (and Supabase's SQL editor) put tables.
SOURCE = "public"


@dataclass(frozen=True)
class Grant:
    table: str
    privilege: str
    grantee: str


@dataclass(frozen=True)
class Move:
    """The tables of ``app`` found in ``public``, to move into ``schema``."""

    app: str
    schema: str
    tables: tuple[str, ...]
    partitions: tuple[str, ...]
    registered: tuple[str, ...]
    """Moved parents registered with pg_partman."""
    grants: tuple[Grant, ...]
    partition_grantees: tuple[str, ...] = API_ROLES
    """Whose privileges the partitions lose (the API roles and any other who held one)."""
    undeclared: tuple[Grant, ...] = ()
    """Privileges the guide gave on the tables that the stack does not: revoked."""
    leftovers: tuple[str, ...] = ()
    """The guide's functions, views and materialized views in ``public`` that the app makes in
    its schema (``DROP`` statements, for once nothing calls them)."""
    lock_timeout: str = "5s"
    """How long the move waits for a table's lock (a long transaction reading it): it fails
    whole rather than queue every new reader of the table behind it (the migrations' default)."""

    def statements(self) -> list[str]:
        def name(schema: str, table: str) -> sql.Composable:
            return sql.Identifier(schema, table)

        out = [
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(self.lock_timeout)),
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)),
        ]
        for table in (*self.tables, *self.partitions):
            out.append(
                sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                    name(SOURCE, table), sql.Identifier(self.schema)
                )
            )
        for grant in self.undeclared:  # the stack's least privilege, as a deploy makes it
            out.append(
                sql.SQL("REVOKE {} ON {} FROM {}").format(
                    sql.SQL(grant.privilege), name(self.schema, grant.table), _role(grant.grantee)
                )
            )
        for table in self.partitions:  # reachable only through the parent, as the stack's
            child = name(self.schema, table)
            out.append(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(child))
            out.append(
                sql.SQL("REVOKE ALL ON {} FROM {}").format(
                    child, sql.SQL(", ").join(map(_role, self.partition_grantees))
                )
            )
        for table in self.registered:
            out.append(
                sql.SQL("UPDATE partman.part_config SET parent_table = {} WHERE parent_table = {}")
                .format(sql.Literal(f"{self.schema}.{table}"), sql.Literal(f"{SOURCE}.{table}"))
            )  # fmt: skip
        for table in self.tables:
            out.append(
                sql.SQL("CREATE VIEW {} WITH (security_invoker = true) AS SELECT * FROM {}").format(
                    name(SOURCE, table), name(self.schema, table)
                )
            )
        grantees = sorted({g.grantee for g in self.grants})
        if grantees:
            out.append(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    sql.Identifier(self.schema), sql.SQL(", ").join(map(_role, grantees))
                )
            )
        kept: dict[tuple[str, str], list[str]] = {}
        for grant in self.grants:
            kept.setdefault((grant.table, grant.grantee), []).append(grant.privilege)
        for (table, grantee), privileges in kept.items():
            out.append(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(", ").join(map(sql.SQL, privileges)), name(SOURCE, table),
                    _role(grantee),
                )
            )  # fmt: skip
        return [statement.as_string(None) for statement in out]

    def contract(self) -> list[str]:
        """What removes the views left under the old names and the guide's objects the app
        makes in its schema, once nothing reads them (the functions redeployed)."""
        views = [
            sql.SQL("DROP VIEW {}").format(sql.Identifier(SOURCE, t)).as_string(None)
            for t in self.tables
        ]
        return [*self.leftovers, *views]

    def __str__(self) -> str:
        body = "".join(f"  {s};\n" for s in self.statements())
        return (
            f"-- app {self.app}: its tables {', '.join(self.tables)} are in {SOURCE}; this moves "
            f"them (rows, indexes, policies, privileges) into {self.schema} and leaves a view "
            f"under each old name\nBEGIN;\n{body}COMMIT;"
        )


def _role(grantee: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if grantee == "PUBLIC" else sql.Identifier(grantee)


_KINDS = {"f": "FUNCTION", "v": "VIEW", "m": "MATERIALIZED VIEW"}


def _made(schema: str, files: Sequence[MigrationFile]) -> dict[str, set[str]]:
    """Names of the functions, views and materialized views the files make in ``schema``."""
    made: dict[str, set[str]] = {kind: set() for kind in _KINDS}
    for file in files:
        for statement in sqltext.split(file.sql, file.source):
            node = statement.node
            target: ast.RangeVar | None = None
            if isinstance(node, ast.CreateFunctionStmt) and len(node.funcname or ()) == 2:
                first, last = node.funcname  # type: ignore[misc]
                if first.sval == schema:
                    made["f"].add(str(last.sval))
            elif isinstance(node, ast.ViewStmt):
                target, kind = node.view, "v"
            elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
                target, kind = node.into.rel, "m"
            if target is not None and target.schemaname == schema:
                made[kind].add(str(target.relname))
    return made


def _leftovers(conn: Connection, schema: str, files: Sequence[MigrationFile]) -> tuple[str, ...]:
    made = _made(schema, files)
    # by name alone: an argument of a moved table's row type moves with it, so a signature
    # read now would name a type that is not there afterwards
    functions = conn.execute(
        "SELECT DISTINCT p.proname FROM pg_proc p "
        "WHERE p.pronamespace = %s::regnamespace AND p.proname = ANY(%s) ORDER BY 1",
        [SOURCE, sorted(made["f"])],
    ).fetchall()
    relations = conn.execute(
        "SELECT c.relkind::text, c.relname FROM pg_class c WHERE c.relnamespace = "
        "%s::regnamespace AND c.relkind IN ('v', 'm') AND (c.relkind = 'v' AND c.relname = "
        "ANY(%s) OR c.relkind = 'm' AND c.relname = ANY(%s)) ORDER BY 2",
        [SOURCE, sorted(made["v"]), sorted(made["m"])],
    ).fetchall()
    return (
        *(f"DROP {_KINDS[str(kind)]} {sql.Identifier(SOURCE, str(rel)).as_string(None)}"
          for kind, rel in relations),
        *(f"DROP FUNCTION {sql.Identifier(SOURCE, str(fn)).as_string(None)}"
          for (fn,) in functions),
    )  # fmt: skip


def views_left(conn: Connection, manifest: AppManifest) -> list[str]:
    """The views a move left in ``public`` over the app's tables (``"public"."items"`` over
    the app's ``items``), still there."""
    if not manifest.owns_schema or manifest.schema_name == SOURCE:
        return []
    rows = conn.execute(
        "SELECT DISTINCT format('%%I.%%I', %s::text, v.relname) FROM pg_class v "
        "JOIN pg_rewrite r ON r.ev_class = v.oid JOIN pg_depend d ON d.objid = r.oid "
        "JOIN pg_class t ON t.oid = d.refobjid AND t.relname = v.relname "
        "WHERE v.relnamespace = %s::regnamespace AND v.relkind = 'v' "
        "AND t.relnamespace = to_regnamespace(%s) ORDER BY 1",
        [SOURCE, SOURCE, manifest.schema_name],
    )
    return [str(view) for (view,) in rows]


def app_tables(schema: str, files: Sequence[MigrationFile]) -> list[str]:
    """The tables the app's migrations create in its schema, in order (partitions made by a
    ``PARTITION OF`` are not tables of their own)."""
    tables: list[str] = []
    for file in files:
        for statement in sqltext.split(file.sql, file.source):
            node = statement.node
            if (
                isinstance(node, ast.CreateStmt)
                and node.relation is not None
                and node.relation.schemaname == schema
                and node.partbound is None
                and node.relation.relname not in tables
            ):
                tables.append(str(node.relation.relname))
    return tables


def find(conn: Connection, manifest: AppManifest, files: Sequence[MigrationFile]) -> Move | None:
    """The move of an app whose schema holds nothing while its tables are in ``public``."""
    if not manifest.owns_schema or manifest.schema_name == SOURCE:
        return None
    wanted = app_tables(manifest.schema_name, files)
    found = {
        str(row[0])
        for row in conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace "
            "AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s) AND NOT c.relispartition",
            [SOURCE, wanted],
        )
    }
    tables = tuple(t for t in wanted if t in found)
    if not tables:
        return None
    children = conn.execute(
        "SELECT c.relname, ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "ELSE pg_get_userbyid(a.grantee) END FROM aclexplode(c.relacl) a "
        "WHERE a.grantee <> c.relowner) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relnamespace = %s::regnamespace "
        "AND c.relnamespace = p.relnamespace AND p.relname = ANY(%s) ORDER BY c.relname",
        [SOURCE, list(tables)],
    ).fetchall()
    partitions = tuple(str(child) for child, _ in children)
    partition_grantees = tuple(sorted({*API_ROLES, *(g for _, held in children for g in held)}))
    registered: tuple[str, ...] = ()
    if conn.execute("SELECT to_regclass('partman.part_config')").fetchone() not in (None, (None,)):
        parents = [f"{SOURCE}.{t}" for t in tables]
        listed = "SELECT parent_table FROM partman.part_config WHERE parent_table = ANY(%s)"
        names = {str(row[0]) for row in conn.execute(listed, [parents])}
        registered = tuple(t for t in tables if f"{SOURCE}.{t}" in names)
    held = [
        Grant(str(table), str(privilege), str(grantee))
        for table, privilege, grantee in conn.execute(
            "SELECT c.relname, a.privilege_type, "
            "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END "
            "FROM pg_class c, aclexplode(c.relacl) a WHERE c.relnamespace = %s::regnamespace "
            "AND c.relname = ANY(%s) AND a.grantee <> c.relowner "
            "AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE') "
            "ORDER BY 1, 3, 2",
            [SOURCE, list(tables)],
        )
    ]
    grants = tuple(g for g in held if g.privilege in table_privileges(manifest, g.grantee, g.table))
    undeclared = tuple(g for g in held if g not in grants)
    return Move(
        manifest.app, manifest.schema_name, tables, partitions, registered, grants,
        partition_grantees, undeclared, _leftovers(conn, manifest.schema_name, files),
    )  # fmt: skip
