"""Database advisors: the checks Supabase's database linter (splinter, ``supabase db advisors``)
documents, written here from their published definitions and run against a live database.

Each check is one catalog query returning the objects it flags and a sentence about each; its
level is the one Supabase gives it. ERROR findings expose data to the API roles (``anon``,
``authenticated``) through the Data API; WARN findings are weaknesses (a hijackable
``search_path``, a SECURITY DEFINER function the API roles may call, a policy evaluated per row);
INFO findings are performance hints. The schemas the Data API exposes are read as Supabase's
linter reads them (``pgrst.db_schemas``), falling back to ``public``.

Objects that belong to extensions, and Supabase's own schemas, are never flagged.
"""

# Every query below is assembled from this module's constant fragments, never from input.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import psycopg

from supastack.database.declared import EXTENSION_USES_ITS_SCHEMA, Declared, undeclared
from supastack.database.postgres import connect
from supastack.errors import SupastackError


class Level(StrEnum):
    ERROR = "ERROR"
    WARN = "WARN"
    INFO = "INFO"


@dataclass(frozen=True)
class Advisor:
    """One documented check: its name (Supabase's), level, title and query.

    The query returns ``(object, detail)`` rows.
    """

    name: str
    level: Level
    title: str
    query: str


@dataclass(frozen=True)
class Finding:
    level: Level
    name: str
    object: str
    detail: str

    def __str__(self) -> str:
        return f"{self.level:<5} {self.name}: {self.object}: {self.detail}"


#: Schemas the linter leaves alone (Postgres's and Supabase's own).
_SYSTEM = (
    "array['pg_catalog', 'information_schema', 'pg_toast', 'auth', 'storage', 'vault', "
    "'extensions', 'cron', 'net', 'realtime', 'graphql', 'graphql_public', 'pgsodium', "
    "'pgsodium_masks', 'supabase_functions', 'supabase_migrations', 'pgbouncer', 'partman']"
)
#: The schemas the Data API serves (set for the session by :func:`advise`).
_EXPOSED = "string_to_array(current_setting('supastack.exposed_schemas'), ',')"
#: Relations (``c``, schema ``n``) that are the user's: not system, not an extension's.
_USER_RELATION = (
    f"n.nspname <> all({_SYSTEM}) and not exists (select 1 from pg_catalog.pg_depend d "
    "where d.objid = c.oid and d.deptype = 'e')"
)
_USER_FUNCTION = (
    f"n.nspname <> all({_SYSTEM}) and not exists (select 1 from pg_catalog.pg_depend d "
    "where d.objid = p.oid and d.deptype = 'e')"
)
_API_ROLES_READ = (
    "(pg_catalog.has_table_privilege('anon', c.oid, 'SELECT') "
    "or pg_catalog.has_table_privilege('authenticated', c.oid, 'SELECT'))"
)
_RELATION = "format('%I.%I', n.nspname, c.relname)"
_FUNCTION = (
    "format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments"
    "(p.oid))"
)
_POLICY = "format('%I.%I: %I', pol.schemaname, pol.tablename, pol.policyname)"
_FROM_RELATIONS = (
    "from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
    f"where {_USER_RELATION}"
)
_FROM_FUNCTIONS = (
    "from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace "
    f"where {_USER_FUNCTION}"
)
_FROM_POLICIES = f"from pg_catalog.pg_policies pol where pol.schemaname <> all({_SYSTEM})"

ADVISORS: tuple[Advisor, ...] = (
    Advisor(
        "rls_disabled_in_public",
        Level.ERROR,
        "RLS disabled in an exposed schema",
        f"select {_RELATION}, 'table is exposed to the Data API without row level security' "
        f"{_FROM_RELATIONS} and c.relkind in ('r', 'p') and not c.relrowsecurity "
        f"and n.nspname = any({_EXPOSED})",
    ),
    Advisor(
        "policy_exists_rls_disabled",
        Level.ERROR,
        "Policy exists, RLS disabled",
        f"select {_RELATION}, 'has policies but row level security is off, so they do nothing' "
        f"{_FROM_RELATIONS} and c.relkind in ('r', 'p') and not c.relrowsecurity "
        "and exists (select 1 from pg_catalog.pg_policy pp where pp.polrelid = c.oid)",
    ),
    Advisor(
        "security_definer_view",
        Level.ERROR,
        "Security definer view",
        f"select {_RELATION}, 'view runs with its owner''s rights (no security_invoker), "
        f"bypassing the caller''s row level security' {_FROM_RELATIONS} and c.relkind = 'v' "
        f"and n.nspname = any({_EXPOSED}) and {_API_ROLES_READ} "
        "and not coalesce(c.reloptions && array['security_invoker=true', 'security_invoker=on']"
        ", false)",
    ),
    Advisor(
        "auth_users_exposed",
        Level.ERROR,
        "Exposed auth.users",
        f"select {_RELATION}, 'exposes auth.users to the API roles' {_FROM_RELATIONS} "
        f"and c.relkind in ('v', 'm') and n.nspname = any({_EXPOSED}) and {_API_ROLES_READ} "
        "and exists (select 1 from pg_catalog.pg_rewrite r join pg_catalog.pg_depend d "
        "on d.objid = r.oid where r.ev_class = c.oid and d.refobjid = to_regclass('auth.users'))",
    ),
    Advisor(
        "rls_references_user_metadata",
        Level.ERROR,
        "Policy references user metadata",
        f"select {_POLICY}, 'uses user_metadata from the JWT, which the user can edit' "
        f"{_FROM_POLICIES} and concat(pol.qual, pol.with_check) like '%user_metadata%'",
    ),
    Advisor(
        "function_search_path_mutable",
        Level.WARN,
        "Function search path mutable",
        f"select {_FUNCTION}, 'has no fixed search_path; objects a caller creates could hijack "
        f"it' {_FROM_FUNCTIONS} and not exists (select 1 from unnest(p.proconfig) setting "
        "where setting like 'search_path=%')",
    ),
    Advisor(
        "security_definer_function_executable",
        Level.WARN,
        "SECURITY DEFINER function executable by an API role",
        f"select {_FUNCTION}, 'runs with its owner''s rights, and anon or authenticated may "
        f"call it through the Data API' {_FROM_FUNCTIONS} and p.prosecdef "
        f"and n.nspname = any({_EXPOSED}) "
        "and (pg_catalog.has_function_privilege('anon', p.oid, 'EXECUTE') "
        "or pg_catalog.has_function_privilege('authenticated', p.oid, 'EXECUTE'))",
    ),
    Advisor(
        "extension_in_public",
        Level.WARN,
        "Extension in public",
        "select format('%I', e.extname), 'is installed in public; install it in extensions' "
        "from pg_catalog.pg_extension e join pg_catalog.pg_namespace n "
        f"on n.oid = e.extnamespace where n.nspname = 'public' and {EXTENSION_USES_ITS_SCHEMA}",
    ),
    Advisor(
        "materialized_view_in_api",
        Level.WARN,
        "Materialized view in API",
        f"select {_RELATION}, 'materialized view the API roles read (no row level security "
        f"applies to it)' {_FROM_RELATIONS} and c.relkind = 'm' "
        f"and n.nspname = any({_EXPOSED}) and {_API_ROLES_READ}",
    ),
    Advisor(
        "auth_rls_initplan",
        Level.WARN,
        "Auth RLS initialization plan",
        f"select {_POLICY}, 'calls auth.<function>() or current_setting() once per row; wrap "
        f"the call in (select ...)' {_FROM_POLICIES} and exists (select 1 from "
        "unnest(array[pol.qual, pol.with_check]) clause "
        r"where clause ~ '(auth\.(uid|jwt|role|email)|current_setting)\(' "
        r"and clause !~* 'select (auth\.(uid|jwt|role|email)|current_setting)\(')",
    ),
    Advisor(
        "multiple_permissive_policies",
        Level.WARN,
        "Multiple permissive policies",
        "select format('%I.%I: %s for %s', pol.schemaname, pol.tablename, action, role), "
        "'several permissive policies, each evaluated for every row' "
        "from pg_catalog.pg_policies pol, unnest(pol.roles) role, unnest(case pol.cmd "
        "when 'ALL' then array['SELECT', 'INSERT', 'UPDATE', 'DELETE'] else array[pol.cmd] "
        f"end) action where pol.schemaname <> all({_SYSTEM}) and pol.permissive = 'PERMISSIVE' "
        "group by pol.schemaname, pol.tablename, action, role having count(*) > 1",
    ),
    Advisor(
        "duplicate_index",
        Level.WARN,
        "Duplicate index",
        f"select {_RELATION}, 'identical indexes: ' || string_agg(i.indexrelid::regclass::text, "
        "', ' order by i.indexrelid::regclass::text) "
        "from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
        f"join pg_catalog.pg_index i on i.indrelid = c.oid where {_USER_RELATION} "
        "group by n.nspname, c.relname, i.indkey::text, i.indclass::text, "
        "i.indcollation::text, pg_catalog.pg_get_expr(i.indexprs, i.indrelid), "
        "pg_catalog.pg_get_expr(i.indpred, i.indrelid) having count(*) > 1",
    ),
    Advisor(
        "statistics_readable_by_api_roles",
        Level.WARN,
        "Table statistics readable by the API roles (supastack's own check)",
        "select 'pg_catalog: ' || count(*) || ' statistics views and functions', 'anon or "
        "authenticated reads every table''s row counts and activity through them (how many API "
        "keys exist across organizations, say); the monitoring app''s migration revokes them "
        "where the deploying role may, otherwise the owner of pg_catalog must: ' "
        "|| string_agg(name, ', ' order by name) from ("
        "select c.relname::text as name from pg_catalog.pg_class c "
        "where c.relnamespace = 'pg_catalog'::regnamespace and c.relkind = 'v' and c.relname ~ "
        "'^pg_stat(io)?_(xact_)?(all|sys|user)_(tables|indexes|sequences|functions)$' and "
        f"{_API_ROLES_READ} "
        "union all select p.proname::text from pg_catalog.pg_proc p "
        "where p.pronamespace = 'pg_catalog'::regnamespace "
        "and p.proname like 'pg\\_stat\\_get\\_%' and p.pronargs = 1 "
        "and p.proargtypes[0] = 'oid'::regtype "
        "and p.proname not like 'pg\\_stat\\_get\\_db\\_%' "
        "and (pg_catalog.has_function_privilege('anon', p.oid, 'EXECUTE') "
        "or pg_catalog.has_function_privilege('authenticated', p.oid, 'EXECUTE'))"
        ") readable having count(*) > 0",
    ),
    Advisor(
        "unindexed_foreign_keys",
        Level.INFO,
        "Unindexed foreign keys",
        f"select {_RELATION} || ': ' || ct.conname, 'foreign key without a covering index "
        "(deletes of the referenced rows and joins scan this table)' "
        "from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
        "join pg_catalog.pg_constraint ct on ct.conrelid = c.oid and ct.contype = 'f' "
        f"where {_USER_RELATION} and not exists (select 1 from pg_catalog.pg_index i "
        "where i.indrelid = c.oid and i.indisvalid "
        "and (string_to_array(i.indkey::text, ' ')::smallint[])[1:array_length(ct.conkey, 1)] "
        "= ct.conkey)",
    ),
    Advisor(
        "rls_enabled_no_policy",
        Level.INFO,
        "RLS enabled, no policy",
        f"select {_RELATION}, 'row level security is on with no policy: only the service role "
        f"and the owner read it (often intended)' {_FROM_RELATIONS} "
        "and c.relkind in ('r', 'p') and c.relrowsecurity and not exists "
        "(select 1 from pg_catalog.pg_policy pp where pp.polrelid = c.oid)",
    ),
)


#: Findings only the database's owner can resolve (on Supabase, pg_catalog is supabase_admin's):
#: reported by ``db advisors`` and the preview, never failing a stack's smoke run.
NEEDS_THE_OWNER = frozenset({"statistics_readable_by_api_roles"})


def exposed_schemas(conninfo: str) -> list[str]:
    """The schemas the Data API serves: ``pgrst.db_schemas`` where set (Supabase), else public."""
    with connect(conninfo, subject="database advisors") as conn:
        row = conn.execute("SELECT current_setting('pgrst.db_schemas', true)").fetchone()
    configured = str(row[0]) if row and row[0] else ""
    return [s.strip() for s in configured.split(",") if s.strip()] or ["public"]


#: supastack's checks of what the stack declares (:mod:`supastack.database.declared`).
UNDECLARED_LEVELS = {"policy": Level.ERROR, "extension": Level.WARN}


def undeclared_findings(conninfo: str, declared: Declared) -> list[Finding]:
    """A policy on an app's table the stack does not declare (ERROR: it changes who reads the
    table) and a declared extension in another schema (WARN), each with the SQL resolving it."""
    return [
        Finding(
            UNDECLARED_LEVELS[u.kind],
            f"{u.kind}_not_as_declared",
            u.object,
            f"{u.detail}; resolve with: {u.remedy}",
        )
        for u in undeclared(conninfo, declared)
    ]


def advise(
    conninfo: str, exposed: list[str] | None = None, declared: Declared | None = None
) -> list[Finding]:
    """Every finding of every advisor (with ``declared``, supastack's checks of what the stack
    declares too), most severe first."""
    schemas = exposed if exposed is not None else exposed_schemas(conninfo)
    findings = []
    with connect(conninfo, subject="database advisors") as conn:
        conn.execute(
            "SELECT set_config('supastack.exposed_schemas', %s, false)",
            [",".join(schemas)],
        )
        for advisor in ADVISORS:
            try:
                rows = conn.execute(advisor.query.encode()).fetchall()
            except psycopg.Error as exc:
                raise SupastackError(
                    f"database advisor {advisor.name}: {exc.diag.message_primary}"
                ) from None
            findings += [Finding(advisor.level, advisor.name, str(o), str(d)) for o, d in rows]
    if declared is not None:
        findings += undeclared_findings(conninfo, declared)
    return sorted(findings, key=lambda f: (list(Level).index(f.level), f.name, f.object))


def at_least(level: Level, threshold: Level) -> bool:
    """Whether ``level`` is as severe as ``threshold`` or more."""
    order = list(Level)
    return order.index(level) <= order.index(threshold)


def summary(findings: list[Finding]) -> str:
    counts = {level: sum(f.level is level for f in findings) for level in Level}
    return ", ".join(f"{count} {level}" for level, count in counts.items())


def preview_report(conninfo: str) -> list[str]:
    """What a preview shows of the live database: its ERROR and WARN findings, or why the
    advisors could not run (a preview still goes on: the database may not exist yet)."""
    try:
        findings = advise(conninfo)
    except SupastackError as exc:
        return [f"database advisors did not run: {exc}"]
    return [f"database advisors: {f}" for f in findings if f.level is not Level.INFO]
