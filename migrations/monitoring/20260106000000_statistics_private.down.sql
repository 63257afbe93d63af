-- Back to Postgres's defaults: every role reads every table's statistics.
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
    execute format('grant select on %s to public', stat.name);
  end loop;
  for stat in
    select p.oid::regprocedure::text as name
    from pg_catalog.pg_proc p
    where p.pronamespace = 'pg_catalog'::regnamespace and p.proname like 'pg\_stat\_get\_%'
      and p.pronargs = 1 and p.proargtypes[0] = 'oid'::regtype
      and p.proname not like 'pg\_stat\_get\_db\_%'
  loop
    execute format('grant execute on function %s to public', stat.name);
  end loop;
exception when insufficient_privilege then
  raise notice 'statistics views left as they were (%)', sqlerrm;
end
$$;
