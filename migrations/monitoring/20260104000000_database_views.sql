-- The database views of the ObservAI guide's "Database Monitoring" step, for every stack: the
-- slowest statements (pg_stat_statements, preloaded on Supabase and by the local cluster) and
-- the size of every table of the apps' schemas (the guide's looked at public only). They run
-- with the owner's rights and are granted to the service role only:
-- statement texts can carry literals an API caller must not see.

create view monitoring.slow_queries as
  select s.query, s.calls, s.mean_exec_time, s.total_exec_time, s.rows
  from extensions.pg_stat_statements s
  order by s.mean_exec_time desc
  limit 100;

create view monitoring.table_sizes as
  select n.nspname as schema_name, c.relname as table_name,
         pg_size_pretty(pg_total_relation_size(c.oid)) as total_size,
         pg_size_pretty(pg_indexes_size(c.oid)) as index_size,
         pg_total_relation_size(c.oid) as total_bytes
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'm')
    and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
    and n.nspname not like 'pg_temp%'
  order by pg_total_relation_size(c.oid) desc;

revoke all on monitoring.slow_queries, monitoring.table_sizes from public;
-- What apps/monitoring.yaml grants the service role on every table of the schema: a stack
-- upgraded in place gets the views with the same privileges as one built fresh (the
-- schema-wide grant ran before they existed). The views are not updatable: only SELECT works.
grant select, insert, update, delete on monitoring.slow_queries, monitoring.table_sizes
  to service_role;
