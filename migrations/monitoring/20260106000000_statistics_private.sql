-- Postgres lets every role read the statistics of every table (pg_stat_user_tables and the
-- other per-table, per-index, per-sequence and per-function views, and the pg_stat_get_*(oid)
-- functions under them): an authenticated user could read how many API keys exist across all
-- organizations (n_live_tup), or watch another tenant's activity by the counters. Only the
-- statistics of a whole server (pg_stat_activity, which shows others' sessions without their
-- queries) stay readable. Needs the views' owner or a superuser: locally the deploy has it; on
-- Supabase, where pg_catalog belongs to supabase_admin, the notice says it could not, and
-- `supastack db advisors` keeps flagging it (statistics_readable_by_api_roles).
do $$
declare
  stat record;
begin
  for stat in
    select format('%I.%I', n.nspname, c.relname) as name
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'pg_catalog' and c.relkind = 'v'
      and c.relname ~ '^pg_stat(io)?_(xact_)?(all|sys|user)_(tables|indexes|sequences|functions)$'
  loop
    execute format('revoke select on %s from public', stat.name);
  end loop;
  for stat in
    select p.oid::regprocedure::text as name
    from pg_catalog.pg_proc p
    where p.pronamespace = 'pg_catalog'::regnamespace and p.proname like 'pg\_stat\_get\_%'
      and p.pronargs = 1 and p.proargtypes[0] = 'oid'::regtype
      and p.proname not like 'pg\_stat\_get\_db\_%'
  loop
    execute format('revoke execute on function %s from public', stat.name);
  end loop;
exception when insufficient_privilege then
  raise notice 'statistics views left readable by every role (%): ask the database owner to '
    'revoke them (supastack db advisors flags it)', sqlerrm;
end
$$;
