-- Organizations' alert definitions (a metric's mean over a window above or below a threshold)
-- and their events. A definition notifies one of the platform's alert channels
-- (supastack:alertChannels: Slack, PagerDuty, e-mail, webhooks, their keys in Vault) through
-- monitoring.deliver, once when it starts firing and once when it resolves.

create table observai.alert_definitions (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references observai.organizations on delete cascade,
  name text not null check (length(name) between 1 and 100),
  metric text not null check (length(metric) between 1 and 200),
  condition text not null check (condition in ('above', 'below')),
  threshold double precision not null,
  window_length interval not null
    check (window_length between interval '1 minute' and interval '1 day'),
  channel text not null,
  severity text not null default 'warning' check (severity in ('critical', 'warning', 'info')),
  enabled boolean not null default true,
  state text not null default 'ok' check (state in ('ok', 'firing')),
  last_value double precision,
  last_evaluated_at timestamptz,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, name)
);

create table observai.alert_events (
  id bigint generated always as identity primary key,
  alert_id uuid not null references observai.alert_definitions on delete cascade,
  organization_id uuid not null references observai.organizations on delete cascade,
  state text not null check (state in ('firing', 'resolved')),
  value double precision not null,
  notified text[] not null default '{}',
  at timestamptz not null default now()
);
create index alert_events_by_alert on observai.alert_events (alert_id, at desc);
create index alert_events_by_organization on observai.alert_events (organization_id, at desc);

-- What the API shows of a definition.
create function observai.alert_json(d observai.alert_definitions) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'id', d.id, 'name', d.name, 'metric', d.metric, 'condition', d.condition,
    'threshold', d.threshold, 'windowSeconds', extract(epoch from d.window_length)::integer,
    'channel', d.channel, 'severity', d.severity, 'enabled', d.enabled, 'state', d.state,
    'lastValue', d.last_value, 'lastEvaluatedAt', d.last_evaluated_at,
    'createdAt', d.created_at, 'updatedAt', d.updated_at)
$$;

create function observai.list_alerts(
  key_digest bytea, user_id uuid, organization text
) returns jsonb language plpgsql security definer set search_path = '' as $$
declare
  reading uuid := (observai.authorize(key_digest, user_id, organization, 'read')).organization_id;
begin
  return coalesce((select jsonb_agg(observai.alert_json(d) order by d.name)
                     from observai.alert_definitions d
                    where d.organization_id = reading), '[]');
end
$$;

-- Create (alert_id null) or update a definition from `definition` (the API's field names;
-- on update, fields left out keep their values). Owners and admins only.
create function observai.save_alert(
  key_digest bytea, user_id uuid, organization text, alert_id uuid, definition jsonb
) returns jsonb language plpgsql security definer set search_path = '' as $$
declare
  caller observai.principal := observai.authorize(key_digest, user_id, organization, 'manage');
  current observai.alert_definitions;
  saved observai.alert_definitions;
  given jsonb := definition;
  unknown text;
begin
  if jsonb_typeof(given) is distinct from 'object' then
    raise exception 'the body must be a JSON object' using errcode = 'OA422';
  end if;
  select k into unknown from jsonb_object_keys(given) k
   where k not in ('name', 'metric', 'condition', 'threshold', 'windowSeconds', 'channel',
                   'severity', 'enabled')
   limit 1;
  if unknown is not null then
    raise exception '%: unknown field', unknown using errcode = 'OA422';
  end if;
  if alert_id is not null then
    select * into current from observai.alert_definitions d
     where d.id = alert_id and d.organization_id = caller.organization_id for update;
    if current.id is null then
      raise exception 'no such alert' using errcode = 'OA404';
    end if;
    given := observai.alert_json(current) || given;
  end if;
  if jsonb_typeof(given -> 'threshold') is distinct from 'number' then
    raise exception 'threshold: a number is required' using errcode = 'OA422';
  end if;
  if jsonb_typeof(given -> 'windowSeconds') is distinct from 'number'
     or (given ->> 'windowSeconds')::numeric not between 60 and 86400 then
    raise exception 'windowSeconds: 60 to 86400' using errcode = 'OA422';
  end if;
  if given ->> 'condition' is null or given ->> 'condition' not in ('above', 'below') then
    raise exception 'condition: above or below' using errcode = 'OA422';
  end if;
  if coalesce(given ->> 'severity', 'warning') not in ('critical', 'warning', 'info') then
    raise exception 'severity: critical, warning or info' using errcode = 'OA422';
  end if;
  if coalesce(length(given ->> 'name'), 0) not between 1 and 100 then
    raise exception 'name: 1 to 100 characters' using errcode = 'OA422';
  end if;
  if coalesce(length(given ->> 'metric'), 0) not between 1 and 200 then
    raise exception 'metric: 1 to 200 characters' using errcode = 'OA422';
  end if;
  if not exists (select 1 from monitoring.alert_channels c where c.name = given ->> 'channel')
  then
    raise exception 'channel: not one of the platform''s alert channels' using errcode = 'OA422';
  end if;
  if given ? 'enabled' and jsonb_typeof(given -> 'enabled') <> 'boolean' then
    raise exception 'enabled: true or false' using errcode = 'OA422';
  end if;
  if exists (select 1 from observai.alert_definitions d
              where d.organization_id = caller.organization_id and d.name = given ->> 'name'
                and d.id is distinct from alert_id) then
    raise exception 'name: the organization has an alert of that name' using errcode = 'OA409';
  end if;
  if alert_id is null then
    insert into observai.alert_definitions
      (organization_id, name, metric, condition, threshold, window_length, channel, severity,
       enabled, created_by)
    values (caller.organization_id, given ->> 'name', given ->> 'metric',
            given ->> 'condition', (given ->> 'threshold')::double precision,
            make_interval(secs => (given ->> 'windowSeconds')::integer), given ->> 'channel',
            coalesce(given ->> 'severity', 'warning'),
            coalesce((given ->> 'enabled')::boolean, true), caller.actor)
    returning * into saved;
  else
    update observai.alert_definitions d set
      name = given ->> 'name', metric = given ->> 'metric', condition = given ->> 'condition',
      threshold = (given ->> 'threshold')::double precision,
      window_length = make_interval(secs => (given ->> 'windowSeconds')::integer),
      channel = given ->> 'channel', severity = given ->> 'severity',
      enabled = (given ->> 'enabled')::boolean, updated_at = now()
    where d.id = alert_id
    returning * into saved;
  end if;
  perform observai.audit(caller.organization_id, caller.actor, caller.actor_kind,
                         case when alert_id is null then 'alert.created' else 'alert.updated' end,
                         saved.id::text, definition);
  return observai.alert_json(saved);
end
$$;

create function observai.delete_alert(
  key_digest bytea, user_id uuid, organization text, alert_id uuid
) returns void language plpgsql security definer set search_path = '' as $$
declare
  caller observai.principal := observai.authorize(key_digest, user_id, organization, 'manage');
  removed observai.alert_definitions;
begin
  delete from observai.alert_definitions d
   where d.id = alert_id and d.organization_id = caller.organization_id
  returning * into removed;
  if removed.id is null then
    raise exception 'no such alert' using errcode = 'OA404';
  end if;
  perform observai.audit(caller.organization_id, caller.actor, caller.actor_kind,
                         'alert.deleted', removed.id::text,
                         jsonb_build_object('name', removed.name));
end
$$;

-- One pass over the enabled definitions (those another pass holds are skipped): the metric's
-- mean over the window; no points, no change. ok -> firing and firing -> ok each record an
-- event and notify the channel once.
create function observai.check_alerts() returns table (fired integer, resolved integer)
language plpgsql security definer set search_path = '' as $$
declare
  d observai.alert_definitions;
  slug text;
  mean double precision;
  breached boolean;
  rule monitoring.alert_rules;
  sent text[];
begin
  fired := 0;
  resolved := 0;
  for d in select * from observai.alert_definitions a where a.enabled
           order by a.id for update skip locked
  loop
    select avg(m.value) into mean from observai.metrics m
     where m.organization_id = d.organization_id and m.name = d.metric
       and m.ts >= now() - d.window_length and m.ts <= now();
    update observai.alert_definitions a set last_value = mean, last_evaluated_at = now()
     where a.id = d.id;
    continue when mean is null;
    breached := case d.condition when 'above' then mean > d.threshold
                                 else mean < d.threshold end;
    continue when breached = (d.state = 'firing');
    select o.slug into slug from observai.organizations o where o.id = d.organization_id;
    rule := jsonb_populate_record(null::monitoring.alert_rules, jsonb_build_object(
      'name', format('observai/%s/%s', slug, d.name), 'severity', d.severity,
      'comparison', case d.condition when 'above' then '>' else '<' end,
      'threshold', d.threshold, 'window_length', d.window_length,
      'channels', jsonb_build_array(d.channel), 'last_value', mean));
    sent := monitoring.deliver(rule, case when breached then 'fired' else 'resolved' end,
      format('[%s] %s/%s %s: %s %s %s (mean of %s over %s)', upper(d.severity), slug, d.name,
             case when breached then 'fired' else 'resolved' end, round(mean::numeric, 4),
             case d.condition when 'above' then '>' else '<' end, d.threshold, d.metric,
             d.window_length), mean);
    update observai.alert_definitions a
       set state = case when breached then 'firing' else 'ok' end where a.id = d.id;
    insert into observai.alert_events (alert_id, organization_id, state, value, notified)
    values (d.id, d.organization_id, case when breached then 'firing' else 'resolved' end,
            mean, sent);
    if breached then fired := fired + 1; else resolved := resolved + 1; end if;
  end loop;
  return next;
end
$$;

revoke execute on function observai.list_alerts(bytea, uuid, text) from public;
revoke execute on function observai.save_alert(bytea, uuid, text, uuid, jsonb) from public;
revoke execute on function observai.delete_alert(bytea, uuid, text, uuid) from public;
revoke execute on function observai.check_alerts() from public;
grant execute on function observai.list_alerts(bytea, uuid, text) to service_role;
grant execute on function observai.save_alert(bytea, uuid, text, uuid, jsonb) to service_role;
grant execute on function observai.delete_alert(bytea, uuid, text, uuid) to service_role;
grant execute on function observai.check_alerts() to service_role;

-- The latest minute of each of an organization's series in the last day (metrics-export).
create function observai.latest_minutes(organization_id uuid)
returns table (slug text, name text, bucket timestamptz, count bigint, sum double precision,
               min double precision, max double precision)
language sql stable security definer set search_path = '' as $$
  select o.slug, r.name, r.bucket, r.count, r.sum, r.min, r.max
    from observai.organizations o
    cross join lateral (
      select distinct on (x.name) x.* from observai.rollups x
       where x.organization_id = o.id and x.resolution = '1m'
         and x.bucket > now() - interval '1 day'
       order by x.name, x.bucket desc
    ) r
   where o.id = latest_minutes.organization_id
   order by r.name
$$;
revoke execute on function observai.latest_minutes(uuid) from public;
grant execute on function observai.latest_minutes(uuid) to service_role;

alter table observai.alert_definitions enable row level security;
alter table observai.alert_events enable row level security;
