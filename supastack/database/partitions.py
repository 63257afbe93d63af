"""Partitioned tables managed by pg_partman: register, configure, unregister, read, maintain.

The parent table (``PARTITION BY RANGE (<control>)``) is created by a migration; a manifest's
``partitions:`` entry hands it to pg_partman, which premakes future partitions and applies
retention when its maintenance runs (a pg_cron job supastack schedules with the set).

Partitions are storage, the parent is the interface: Postgres applies the parent's RLS policies
and grants to rows read through the parent, but a partition read directly is a table of its own,
and default privileges (Supabase grants the API roles every new table in ``public``) would open
it to every API key with no policy at all. So every partition, when it is made and at every
maintenance, gets row level security with no policy and no privileges for ``anon``,
``authenticated`` and ``PUBLIC``: reachable only through the parent.

Written for pg_partman 4.7 (Debian's ``postgresql-15-partman``) and 5.x (Supabase): the calls
use named arguments both share; ``p_type`` is ``native`` on 4.x and ``range`` on 5.x.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from supastack.database import live_objects
from supastack.database.postgres import Connection, connect, lock_until_commit
from supastack.errors import SupastackError

#: The roles a partition is closed to (the Data API's, and everyone).
API_ROLES = ("anon", "authenticated", "PUBLIC")


@dataclass(frozen=True)
class PartitionSet:
    """One partitioned table as pg_partman should manage it."""

    schema: str
    table: str
    control: str
    interval: str
    premake: int = 4
    retention: str | None = None
    retention_keep_table: bool = True
    """Past retention, detach the partition (keep its table) rather than drop it."""

    @property
    def parent(self) -> str:
        """``schema.table`` as pg_partman names it (``part_config.parent_table``)."""
        return f"{self.schema}.{self.table}"

    @property
    def subject(self) -> str:
        return f"partitions of {self.parent}"


def _closing_block(partitions: PartitionSet, maintain: bool) -> str:
    """A ``DO`` statement closing every partition of the set (the default one too) that is not
    closed yet; with ``maintain``, around pg_partman's maintenance of the set: before it, so a
    partition it detaches is closed, and after it, for those it makes."""
    parent = sql.Literal(partitions.parent)
    child = sql.SQL("format('%I.%I', p.partition_schemaname, p.partition_tablename)::regclass")
    close = sql.SQL(
        "FOR child IN SELECT {child} FROM partman.show_partitions({parent}, "
        "p_include_default := true) p JOIN pg_class c ON c.oid = {child} "
        "WHERE NOT c.relrowsecurity OR c.relacl IS NULL OR EXISTS (SELECT FROM aclexplode("
        "c.relacl) a WHERE a.grantee = 0 OR a.grantee IN (SELECT oid FROM pg_roles WHERE "
        "rolname IN ('anon', 'authenticated'))) LOOP "
        "EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', child); "
        "EXECUTE format('REVOKE ALL ON %s FROM {roles}', child); "
        "END LOOP; "
    ).format(child=child, parent=parent, roles=sql.SQL(", ".join(API_ROLES)))
    steps = [close]
    if maintain:
        steps += [sql.SQL("PERFORM partman.run_maintenance({}); ").format(parent), close]
    body = sql.Composed([sql.SQL("DECLARE child regclass; BEGIN "), *steps, sql.SQL("END")])
    return sql.SQL("DO {}").format(sql.Literal(body.as_string())).as_string()


def maintenance_command(partitions: PartitionSet) -> str:
    """What the pg_cron job runs: pg_partman's maintenance of this set (premake, retention),
    then the new partitions closed to the API roles, in one transaction."""
    return _closing_block(partitions, maintain=True)


def _partman_type(conn: Connection) -> str:
    installed = live_objects.extension(conn, "pg_partman")
    if installed is None:
        raise SupastackError(
            "pg_partman is not installed in this database; list it under the app's extensions "
            "(extensions: [{name: pg_partman, schema: partman}])"
        )
    return "native" if int(installed.version.split(".")[0]) < 5 else "range"


def _configure(conn: Connection, partitions: PartitionSet) -> None:
    conn.execute(
        "UPDATE partman.part_config SET premake = %s, retention = %s, retention_keep_table = %s, "
        "infinite_time_partitions = true, automatic_maintenance = 'on' WHERE parent_table = %s",
        [partitions.premake, partitions.retention, partitions.retention_keep_table,
         partitions.parent],
    )  # fmt: skip


def _close_partitions(conn: Connection, partitions: PartitionSet) -> None:
    conn.execute(_closing_block(partitions, maintain=False).encode())


def _check_parent(conn: Connection, partitions: PartitionSet) -> None:
    row = conn.execute(
        "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
        "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
        "WHERE p.partrelid = to_regclass(%s)",
        [sql.Identifier(partitions.schema, partitions.table).as_string()],
    ).fetchone()
    if row is None:
        raise SupastackError(
            f"{partitions.subject}: {partitions.parent} is not a partitioned table; create it in "
            f"a migration with PARTITION BY RANGE ({partitions.control})"
        )
    if row != ("r", partitions.control):
        raise SupastackError(
            f"{partitions.subject}: {partitions.parent} is not partitioned by range of "
            f"{partitions.control}"
        )


def _registered(conn: Connection, partitions: PartitionSet) -> tuple[str, str] | None:
    """(control, interval) of the registered set, or None."""
    row = conn.execute(
        "SELECT control, partition_interval FROM partman.part_config WHERE parent_table = %s",
        [partitions.parent],
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def register(conninfo: str, partitions: PartitionSet) -> None:
    """Hand the parent to pg_partman (premaking partitions), configure it, close the partitions.

    One transaction: a failure registers nothing. A set already registered alike (state lost,
    or a create retried) is configured, not registered twice.
    """
    with connect(conninfo, subject=partitions.subject) as conn:
        try:
            with conn.transaction():
                kind = _partman_type(conn)
                lock_until_commit(conn, f"supastack.partitions:{partitions.parent}")
                _check_parent(conn, partitions)
                registered = _registered(conn, partitions)
                if registered is None:
                    conn.execute(
                        "SELECT partman.create_parent(p_parent_table := %s, p_control := %s, "
                        "p_type := %s, p_interval := %s, p_premake := %s)",
                        [partitions.parent, partitions.control, kind, partitions.interval,
                         partitions.premake],
                    )  # fmt: skip
                else:
                    _check_same_shape(conn, partitions, registered)
                _configure(conn, partitions)
                _close_partitions(conn, partitions)
        except psycopg.Error as exc:
            raise SupastackError(f"{partitions.subject}: {exc.diag.message_primary}") from None


def _check_same_shape(
    conn: Connection, partitions: PartitionSet, registered: tuple[str, str]
) -> None:
    control, interval = registered
    same_interval = conn.execute(
        "SELECT %s::interval = %s::interval", [interval, partitions.interval]
    ).fetchone()
    if control != partitions.control or same_interval != (True,):
        raise SupastackError(
            f"{partitions.subject}: registered with pg_partman by {control} every {interval}, "
            f"declared by {partitions.control} every {partitions.interval}; pg_partman cannot "
            "change the control column or interval of a set in place: partition a new table "
            "and move the rows in a migration"
        )


def configure(conninfo: str, partitions: PartitionSet) -> None:
    """Apply a changed premake or retention to the registered set."""
    with connect(conninfo, subject=partitions.subject) as conn, conn.transaction():
        registered = _registered(conn, partitions)
        if registered is None:
            raise SupastackError(
                f"{partitions.subject}: not registered with pg_partman (was it unregistered by "
                "hand?); run `pulumi refresh`, then deploy again to register it"
            )
        _check_same_shape(conn, partitions, registered)
        _configure(conn, partitions)


def unregister(conninfo: str, partitions: PartitionSet) -> None:
    """Stop managing the set: its configuration and template table go, its partitions (and their
    rows) stay attached to the parent."""
    with connect(conninfo, subject=partitions.subject) as conn, conn.transaction():
        row = conn.execute(
            "DELETE FROM partman.part_config WHERE parent_table = %s RETURNING template_table",
            [partitions.parent],
        ).fetchone()
        if row and row[0]:
            schema, _, table = str(row[0]).partition(".")
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))


def read(conninfo: str, partitions: PartitionSet) -> PartitionSet | None:
    """The set as pg_partman has it (None if unregistered); an interval spelled differently but
    equal (``1 mon`` for ``1 month``) reads as declared."""
    with connect(conninfo) as conn:
        row = conn.execute(
            "SELECT control, CASE WHEN partition_interval::interval = %s::interval THEN %s "
            "ELSE partition_interval END, premake, retention, retention_keep_table "
            "FROM partman.part_config WHERE parent_table = %s",
            [partitions.interval, partitions.interval, partitions.parent],
        ).fetchone()
    if row is None:
        return None
    control, interval, premake, retention, keep = row
    return PartitionSet(
        partitions.schema, partitions.table, control, interval, premake, retention, keep
    )


_CHILDREN = """
SELECT c.relnamespace::regnamespace::text, c.relname, p.relname, pg_get_expr(c.relpartbound, c.oid),
       c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner), c.relacl::text[]
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relkind = 'p' AND format('%%s.%%s', p.relnamespace::regnamespace, p.relname) = ANY(%s)
"""


def mirror(source: str, target: str, parents: list[str]) -> int:
    """Make ``target``'s partitions of ``parents`` (``schema.table``) those ``source`` has, with
    their bounds, RLS, owner and privileges: pg_partman makes them over time, so they are the
    live database's state, not what migrations make. Returns how many were made."""
    with connect(source, subject="the live database's partitions") as conn:
        children = conn.execute(_CHILDREN, [parents]).fetchall()
    made = 0
    with connect(target, subject="the shadow database's partitions") as conn:
        present = {(r[0], r[1]) for r in conn.execute(_CHILDREN, [parents]).fetchall()}
        for schema, child, parent, bound, rls, force, owner, acl in children:
            if (schema, child) in present:
                continue
            table = sql.Identifier(schema, child)
            conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} {}").format(
                table, sql.Identifier(schema, parent), sql.SQL(bound)))  # fmt: skip
            if rls:
                conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))
            if force:
                conn.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(table))
            conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(table, sql.Identifier(owner)))
            # the privileges exactly as live has them (the shadow is a throwaway superuser's)
            conn.execute("UPDATE pg_class SET relacl = %s::aclitem[] WHERE oid = %s::regclass",
                         [acl, table.as_string(conn)])  # fmt: skip
            made += 1
    return made
