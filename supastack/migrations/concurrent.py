"""``CREATE INDEX CONCURRENTLY`` in a ``-- supastack:no-transaction`` file: a failed or killed
build leaves an INVALID index behind, which would make the rerun fail with "already exists";
the engine finds the index a statement builds and drops an INVALID one before the rerun."""

from __future__ import annotations

from pglast import ast
from psycopg import sql

from supastack.database.postgres import Connection


def concurrent_index(node: ast.Node) -> str | None:
    """The qualified name of the index a ``CREATE INDEX CONCURRENTLY`` builds, or None.

    The index lives in its table's schema; an unqualified table is resolved by Postgres, so the
    name is looked up with ``to_regclass`` on the same search path.
    """
    if not isinstance(node, ast.IndexStmt) or not node.concurrent or not node.idxname:
        return None
    schema = node.relation.schemaname if node.relation else None
    name = sql.Identifier(node.idxname) if schema is None else sql.Identifier(schema, node.idxname)
    return name.as_string()


def invalid_index(conn: Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name]
    ).fetchone()
    return bool(row and row[0])


def drop_invalid_index(conn: Connection, name: str) -> bool:
    """Drop ``name`` if it is an INVALID index (a failed concurrent build); True if it was."""
    if not invalid_index(conn, name):
        return False
    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(name)))
    return True
