-- Feature flags and gated rollouts (docs/flags-and-rollouts.md).
--
-- monitoring.feature_flags holds each stack's flags: rows written by supastack's FeatureFlag
-- resources from the stack file (`supastack:flags`), never by hand (a hand edit is drift that
-- the next deploy with refresh restores). monitoring.flag_enabled() answers for SQL; the
-- functions' shared middleware (functions/_shared/flags.ts) buckets the same way.
-- monitoring.flag_rollouts and flag_rollout_events record what `supastack rollout` did and why.

create table monitoring.feature_flags (
  name text primary key,
  app text not null,
  description text not null,
  enabled boolean not null default false,
  percentage numeric(5, 2) not null default 0 check (percentage between 0 and 100),
  allow text[] not null default '{}',
  updated_at timestamptz not null default now()
);
alter table monitoring.feature_flags enable row level security;

-- A subject's bucket for a flag, 0..9999: the first four bytes of
-- sha256('<flag>:<subject>') as an unsigned integer, modulo 10000. A subject is in at
-- percentage p when its bucket is below p * 100, so it stays in as p grows; the flag's name
-- is part of the hash, so two flags at 10 % reach different subjects.
create function monitoring.flag_bucket(flag text, subject text)
returns integer language sql immutable strict parallel safe set search_path = '' as $$
  select (((get_byte(d, 0)::bigint << 24) | (get_byte(d, 1) << 16) | (get_byte(d, 2) << 8)
           | get_byte(d, 3)) % 10000)::integer
  from (select sha256(convert_to(flag || ':' || subject, 'UTF8')) as d) as digest
$$;

-- Whether the flag is on for the subject: off when the flag is unknown or disabled; on for
-- allow-listed subjects; otherwise by bucket. At 100 % every caller is in, with or without a
-- subject. Security definer: callers need not read the table, and learn one boolean.
create function monitoring.flag_enabled(flag text, subject text)
returns boolean language sql stable security definer set search_path = '' as $$
  select coalesce((
    select f.enabled and (
      f.percentage >= 100 or subject = any(f.allow)
      or monitoring.flag_bucket(f.name, subject) < round(f.percentage * 100))
    from monitoring.feature_flags f where f.name = flag), false)
$$;
revoke all on function monitoring.flag_enabled(text, text) from public;
grant execute on function monitoring.flag_enabled(text, text) to service_role;

-- One row per `supastack rollout`: its plan, how far it got, and how it ended.
create table monitoring.flag_rollouts (
  id bigint generated always as identity primary key,
  flag text not null,
  steps numeric(5, 2)[] not null,
  hold interval not null,
  gates text[] not null,
  -- the flag's percentage before the rollout: where it goes back when no step held
  from_percentage numeric(5, 2) not null,
  state text not null default 'running'
    check (state in ('running', 'completed', 'rolled_back', 'failed')),
  -- the index (from 0) of the step deployed last, and how many steps held
  -- squawk-ignore prefer-bigint-over-int
  step integer not null default 0,
  -- squawk-ignore prefer-bigint-over-int
  held integer not null default 0,
  percentage numeric(5, 2) not null default 0,
  reason text,
  started_at timestamptz not null default now(),
  finished_at timestamptz
);
-- one rollout of a flag at a time (an interrupted one is resumed, not started again)
create unique index flag_rollouts_one_running on monitoring.flag_rollouts (flag)
  where state = 'running';
alter table monitoring.flag_rollouts enable row level security;

create table monitoring.flag_rollout_events (
  id bigint generated always as identity primary key,
  rollout bigint not null references monitoring.flag_rollouts on delete cascade,
  kind text not null check (kind in (
    'started', 'resumed', 'deployed', 'held', 'gate_fired', 'rolled_back', 'completed',
    'failed')),
  percentage numeric(5, 2),
  detail text,
  at timestamptz not null default now()
);
create index flag_rollout_events_by_rollout on monitoring.flag_rollout_events (rollout, id);
alter table monitoring.flag_rollout_events enable row level security;

-- Send a message about a rule to its channels (those taking its severity); returns their
-- names. monitoring.notify (the evaluator's state changes) and monitoring.notify_rollout (a
-- rollout rolled back by the rule) both send through here.
create function monitoring.deliver(
  rule monitoring.alert_rules, kind text, summary text, metric double precision
) returns text[] language plpgsql security definer set search_path = '' as $$
declare
  channel monitoring.alert_channels;
  secret text;
  url text;
  body jsonb;
  sent text[] := '{}';
begin
  for channel in
    select * from monitoring.alert_channels c
    where c.name = any(rule.channels) and rule.severity = any(c.severities)
    order by c.name
  loop
    select decrypted_secret into secret from vault.decrypted_secrets where name = channel.secret_name;
    if secret is null then
      raise warning 'alert channel %: Vault secret % is missing', channel.name, channel.secret_name;
      continue;
    end if;
    url := secret;
    if channel.type = 'slack' then
      body := jsonb_build_object('text', summary);
    elsif channel.type = 'pagerduty' then
      url := coalesce(channel.endpoint, 'https://events.pagerduty.com/v2/enqueue');
      body := jsonb_build_object(
        'routing_key', secret,
        'event_action', case when kind = 'resolved' then 'resolve' else 'trigger' end,
        'dedup_key', 'supastack:' || rule.name,
        'payload', jsonb_build_object('summary', summary, 'severity', rule.severity,
                                      'source', 'supastack'));
    elsif channel.type = 'email' then
      body := jsonb_build_object('subject', summary, 'text', summary);
    else
      body := jsonb_build_object('rule', rule.name, 'kind', kind, 'severity', rule.severity,
                                 'value', metric, 'comparison', rule.comparison,
                                 'threshold', rule.threshold, 'summary', summary, 'at', now());
    end if;
    perform net.http_post(url := url, body := body);
    sent := sent || channel.name;
  end loop;
  return sent;
end
$$;

create or replace function monitoring.notify(
  rule monitoring.alert_rules, kind text, metric double precision
) returns text[] language sql security definer set search_path = '' as $$
  select monitoring.deliver(rule, kind, format('[%s] %s %s: %s %s %s', upper(rule.severity),
    rule.name, kind, round(metric::numeric, 4), rule.comparison, rule.threshold), metric)
$$;

-- A rollout rolled back because `rule` fired: tell the rule's channels.
create function monitoring.notify_rollout(rule_name text, summary text)
returns text[] language sql security definer set search_path = '' as $$
  select coalesce((select monitoring.deliver(r, 'rollout_rolled_back', summary, r.last_value)
                   from monitoring.alert_rules r where r.name = rule_name), '{}')
$$;

-- One pass over the rules named (all when null): pending after the first breach (when the
-- rule has a "for" duration), fired once the breach has lasted that long, repeated every
-- repeat_every while it lasts, resolved when it ends. Each rule is evaluated on its own: a
-- failing metric records an error event and the others go on. Rules being evaluated by a
-- concurrent run are skipped. pg_cron evaluates all rules every minute; a rollout evaluates
-- its gates more often.
create function monitoring.evaluate_alert_rules(names text[])
returns integer language plpgsql set search_path = '' as $$
declare
  rule monitoring.alert_rules;
  metric double precision;
  breach boolean;
  kind text;
  evaluated integer := 0;
begin
  for rule in
    select * from monitoring.alert_rules
    where names is null or name = any(names) order by name for update skip locked
  loop
    begin
      metric := monitoring.metric_value(rule.metric_sql, rule.window_length);
      breach := case rule.comparison
        when '>' then metric > rule.threshold when '>=' then metric >= rule.threshold
        when '<' then metric < rule.threshold when '<=' then metric <= rule.threshold
        when '=' then metric = rule.threshold else metric <> rule.threshold end;
      kind := case
        when breach and rule.state = 'ok' and rule.for_duration > interval '0' then 'pending'
        when breach and rule.state = 'ok' then 'fired'
        when breach and rule.state = 'pending'
             and now() - rule.pending_since >= rule.for_duration then 'fired'
        when breach and rule.state = 'firing'
             and now() - rule.last_notified_at >= rule.repeat_every then 'repeated'
        when not breach and rule.state = 'firing' then 'resolved'
        when not breach and rule.state = 'pending' then 'cleared'
      end;
      update monitoring.alert_rules set
        last_value = metric,
        last_evaluated_at = now(),
        state = case kind when 'pending' then 'pending' when 'fired' then 'firing'
                          when 'resolved' then 'ok' when 'cleared' then 'ok' else state end,
        pending_since = case kind when 'pending' then now() when 'fired' then pending_since
                                  when 'repeated' then pending_since else null end,
        last_notified_at = case when kind in ('fired', 'repeated', 'resolved') then now()
                                else last_notified_at end
      where name = rule.name;
      if kind = 'pending' then
        insert into monitoring.alert_events (rule, kind, value) values (rule.name, kind, metric);
      elsif kind in ('fired', 'repeated', 'resolved') then
        insert into monitoring.alert_events (rule, kind, value, notified)
        values (rule.name, kind, metric, monitoring.notify(rule, kind, metric));
      end if;
      evaluated := evaluated + 1;
    exception when others then
      insert into monitoring.alert_events (rule, kind, detail) values (rule.name, 'error', sqlerrm);
    end;
  end loop;
  return evaluated;
end
$$;

create or replace function monitoring.evaluate_alerts()
returns integer language sql set search_path = '' as $$
  select monitoring.evaluate_alert_rules(null)
$$;

revoke all on function monitoring.deliver(monitoring.alert_rules, text, text, double precision)
  from public;
revoke all on function monitoring.notify_rollout(text, text) from public;
revoke all on function monitoring.evaluate_alert_rules(text[]) from public;
