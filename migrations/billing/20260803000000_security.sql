-- The guide's security hardening (docs/apps/billing.md): its rate-limit and threat-detection
-- settings, the incidents they record, temporary blocks, and a scan of the database for what
-- would let a caller read or run what they should not.

-- The guide's security_configuration, with its values. A change is a migration: reviewed in
-- a pull request, shown by `pulumi preview`, the same on every stack.
create table billing.security_settings (
  category text not null,
  key text not null,
  value jsonb not null,
  primary key (category, key)
);
insert into billing.security_settings (category, key, value) values
  ('rate_limiting', 'global_settings',
   '{"requestsPerMinute": 100, "burstLimit": 200, "blockDuration": 300}'),
  ('threat_detection', 'global_settings',
   '{"sqlInjectionDetection": true, "xssDetection": true, "commandInjectionDetection": true}');

-- What the guards saw. `detail` names the rule and the field, never the value sent (it may
-- hold anything, a customer's data included). (The guide's third kind, unauthorized access,
-- is refused before any guard runs: its 401 / 403 answers are in the invocation records.)
create table billing.security_incidents (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  event_type text not null
    check (event_type in ('rate_limit_exceeded', 'injection_attempt')),
  threat_level text not null check (threat_level in ('low', 'medium', 'high', 'critical')),
  subject text not null,
  function_name text not null,
  detail jsonb not null default '{}',
  auto_response text not null check (auto_response in ('temporary_block', 'immediate_block'))
);
create index security_incidents_recent on billing.security_incidents (created_at desc);

-- Callers refused until `blocked_until`: `user:<id>` or `ip:<address>`.
create table billing.blocks (
  subject text primary key,
  blocked_until timestamptz not null,
  reason text not null
);

alter table billing.security_settings enable row level security;
alter table billing.security_incidents enable row level security;
alter table billing.blocks enable row level security;

-- Block `subject` for the configured duration and record why, once per block: concurrent
-- refusals of one caller extend nothing and record one incident.
create function billing.block(
  subject text, function_name text, event_type text, threat_level text, auto_response text,
  detail jsonb
) returns void language plpgsql security definer set search_path = '' as $$
declare
  duration interval := make_interval(secs => (
    select (s.value ->> 'blockDuration')::double precision from billing.security_settings s
     where s.category = 'rate_limiting' and s.key = 'global_settings'));
begin
  insert into billing.blocks as b (subject, blocked_until, reason)
  values (block.subject, now() + duration, block.event_type)
  on conflict on constraint blocks_pkey do update
    set blocked_until = excluded.blocked_until, reason = excluded.reason
    where b.blocked_until <= now();
  if found then
    insert into billing.security_incidents
      (event_type, threat_level, subject, function_name, detail, auto_response)
    values (block.event_type, block.threat_level, block.subject, block.function_name,
            block.detail, block.auto_response);
  end if;
end
$$;

-- Admit one request of `subject` to `function_name`: the seconds it must wait (0: admitted),
-- and the threat-detection settings the function applies to its input. Past the burst (200)
-- of a bucket refilling at 100 a minute, the caller is blocked for 300 s.
create function billing.admit(subject text, function_name text,
                              out wait double precision, out detection jsonb)
language plpgsql security definer set search_path = '' as $$
declare
  limits jsonb;
  until timestamptz;
begin
  select s.value into detection from billing.security_settings s
   where s.category = 'threat_detection' and s.key = 'global_settings';
  select b.blocked_until into until from billing.blocks b
   where b.subject = admit.subject and b.blocked_until > now();
  if found then
    wait := extract(epoch from until - now());
    return;
  end if;
  select s.value into limits from billing.security_settings s
   where s.category = 'rate_limiting' and s.key = 'global_settings';
  wait := monitoring.take_token('billing:' || subject, (limits ->> 'burstLimit')::integer,
                                (limits ->> 'requestsPerMinute')::double precision / 60);
  if wait > 0 then
    perform billing.block(subject, function_name, 'rate_limit_exceeded', 'medium',
                          'temporary_block', limits);
    wait := (limits ->> 'blockDuration')::double precision;
  end if;
end
$$;

-- Lift a block and refill the caller's bucket (a person decided the caller may go on).
create function billing.unblock(subject text) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  delete from monitoring.rate_limit_buckets r where r.key = 'billing:' || unblock.subject;
  delete from billing.blocks b where b.subject = unblock.subject;
  return found;
end
$$;

-- The scan behind security-hardening's `security_scan`: each check, whether it passed, and
-- the objects that fail it (names only). Objects of extensions are theirs, not ours.
-- (plpgsql: pg_cron's tables are the cluster's database's, resolved when the scan runs.)
create function billing.security_scan()
returns table (check_name text, passed boolean, findings text[])
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
  with ours as (
    select n.oid, n.nspname from pg_namespace n
     where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
       and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'
       and not exists (select from pg_depend d where d.classid = 'pg_namespace'::regclass
                        and d.objid = n.oid and d.deptype = 'e')
  ),
  open_tables as (
    select format('%I.%I', o.nspname, c.relname) as name
      from pg_class c join ours o on o.oid = c.relnamespace
     where c.relkind in ('r', 'p') and not c.relrowsecurity
       and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass
                        and d.objid = c.oid and d.deptype = 'e')
       and (has_table_privilege('anon', c.oid, 'select, insert, update, delete')
            or has_table_privilege('authenticated', c.oid, 'select, insert, update, delete'))
  ),
  definers as (
    select format('%I.%I(%s)', o.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
             as name
      from pg_proc p join ours o on o.oid = p.pronamespace
     where p.prosecdef
       and not exists (select from unnest(coalesce(p.proconfig, '{}')) c
                        where c like 'search_path=%')
       and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass
                        and d.objid = p.oid and d.deptype = 'e')
  ),
  settings_secrets as (
    select format('%I.%I', o.nspname, p.proname) as name
      from pg_proc p join ours o on o.oid = p.pronamespace
     where p.prosrc ~* 'current_setting\s*\(\s*''app\.[a-z_]*(key|secret|token|password)'
  ),
  cron_credentials as (
    select j.jobname::text as name from cron.job j
     where j.command ~ '(Bearer\s+[A-Za-z0-9._-]{20,}|\msk_(live|test)_|\meyJ[A-Za-z0-9_-]{10,}\.)'
  ),
  settings as (
    select s.value from billing.security_settings s
     where s.category = 'threat_detection' and s.key = 'global_settings'
  )
  select 'API roles reach no table without row level security',
         count(*) = 0, coalesce(array_agg(name order by name), '{}') from open_tables
  union all
  select 'every security definer function fixes its search_path',
         count(*) = 0, coalesce(array_agg(name order by name), '{}') from definers
  union all
  select 'no function reads a secret from a database setting',
         count(*) = 0, coalesce(array_agg(name order by name), '{}') from settings_secrets
  union all
  select 'no scheduled job holds a credential in its command',
         count(*) = 0, coalesce(array_agg(name order by name), '{}') from cron_credentials
  union all
  select 'threat detection is on for SQL, script and command injection',
         coalesce(bool_and((value ->> 'sqlInjectionDetection')::boolean
                           and (value ->> 'xssDetection')::boolean
                           and (value ->> 'commandInjectionDetection')::boolean), false),
         '{}'::text[] from settings;
end
$$;

revoke execute on function billing.block(text, text, text, text, text, jsonb),
  billing.admit(text, text), billing.unblock(text), billing.security_scan() from public;
