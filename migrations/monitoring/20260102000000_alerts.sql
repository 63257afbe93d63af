-- Alert rules evaluated by pg_cron every minute (monitoring.evaluate_alerts), notification
-- channels whose URLs and keys stay in Vault, and every event kept. Rows of alert_rules and
-- alert_channels are written by supastack's AlertRule / AlertChannel resources.

create table monitoring.alert_channels (
  name text primary key,
  type text not null check (type in ('slack', 'pagerduty', 'webhook', 'email')),
  -- the Vault secret holding the webhook URL (PagerDuty: the routing key)
  secret_name text not null,
  -- PagerDuty's Events API URL (default below); unused by the other types
  endpoint text,
  severities text[] not null
);
alter table monitoring.alert_channels enable row level security;

create table monitoring.alert_rules (
  name text primary key,
  severity text not null check (severity in ('critical', 'warning', 'info')),
  -- a query returning one number; $1 is the rule's window
  metric_sql text not null,
  comparison text not null check (comparison in ('>', '>=', '<', '<=', '=', '<>')),
  threshold double precision not null,
  window_length interval not null,
  for_duration interval not null default '0',
  repeat_every interval not null default '1 hour',
  channels text[] not null,
  state text not null default 'ok' check (state in ('ok', 'pending', 'firing')),
  pending_since timestamptz,
  last_notified_at timestamptz,
  last_value double precision,
  last_evaluated_at timestamptz
);
alter table monitoring.alert_rules enable row level security;

create table monitoring.alert_events (
  id bigint generated always as identity primary key,
  rule text not null,
  kind text not null check (kind in ('pending', 'fired', 'repeated', 'resolved', 'error')),
  value double precision,
  detail text,
  notified text[] not null default '{}',
  at timestamptz not null default now()
);
create index alert_events_by_rule on monitoring.alert_events (rule, at desc);
alter table monitoring.alert_events enable row level security;

-- Metric helpers for the common rules.
create function monitoring.function_error_rate(fn text, win interval)
returns double precision language sql stable set search_path = '' as $$
  select coalesce(avg((status >= 500)::integer)::double precision, 0)
  from monitoring.function_invocations
  where function_name = fn and invoked_at > now() - win
$$;

create function monitoring.function_p95_ms(fn text, win interval)
returns double precision language sql stable set search_path = '' as $$
  select coalesce(percentile_cont(0.95) within group (order by duration_ms), 0)
  from monitoring.function_invocations
  where function_name = fn and invoked_at > now() - win
$$;

-- pg_cron's tables exist only in the cron database: elsewhere this reads as no failures.
create function monitoring.cron_failures(job text, win interval)
returns double precision language plpgsql stable set search_path = '' as $$
declare
  failures bigint := 0;
begin
  if to_regclass('cron.job_run_details') is not null then
    execute 'select count(*) from cron.job_run_details d join cron.job j using (jobid)
             where j.jobname = $1 and d.status = ''failed'' and d.start_time > now() - $2'
      into failures using job, win;
  end if;
  return failures;
end
$$;

-- The value of a rule's metric query over a window.
create function monitoring.metric_value(metric_sql text, win interval)
returns double precision language plpgsql set search_path = '' as $$
declare
  result double precision;
begin
  execute metric_sql into result using win;
  return coalesce(result, 0);
end
$$;

-- Send a rule's state change to its channels (those taking its severity); returns their names.
create function monitoring.notify(rule monitoring.alert_rules, kind text, metric double precision)
returns text[] language plpgsql security definer set search_path = '' as $$
declare
  channel monitoring.alert_channels;
  secret text;
  summary text;
  url text;
  body jsonb;
  sent text[] := '{}';
begin
  summary := format('[%s] %s %s: %s %s %s', upper(rule.severity), rule.name, kind,
                    round(metric::numeric, 4), rule.comparison, rule.threshold);
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
                                 'threshold', rule.threshold, 'at', now());
    end if;
    perform net.http_post(url := url, body := body);
    sent := sent || channel.name;
  end loop;
  return sent;
end
$$;

-- One pass over the rules: pending after the first breach (when the rule has a "for"
-- duration), fired once the breach has lasted that long, repeated every repeat_every while it
-- lasts, resolved when it ends. Each rule is evaluated on its own: a failing metric records an
-- error event and the others go on. Rules being evaluated by a concurrent run are skipped.
create function monitoring.evaluate_alerts()
returns integer language plpgsql set search_path = '' as $$
declare
  rule monitoring.alert_rules;
  metric double precision;
  breach boolean;
  kind text;
  evaluated integer := 0;
begin
  for rule in select * from monitoring.alert_rules order by name for update skip locked loop
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

revoke all on function monitoring.notify(monitoring.alert_rules, text, double precision) from public;
revoke all on function monitoring.evaluate_alerts() from public;
