-- Back to the alert functions of 20260102000000_alerts (evaluate_alerts and notify as they
-- were there), without flags and rollout records.
drop function monitoring.evaluate_alerts();
drop function monitoring.notify(monitoring.alert_rules, text, double precision);
drop function monitoring.evaluate_alert_rules(text[]);
drop function monitoring.notify_rollout(text, text);
drop function monitoring.deliver(monitoring.alert_rules, text, text, double precision);
drop table monitoring.flag_rollout_events;
drop table monitoring.flag_rollouts;
drop function monitoring.flag_enabled(text, text);
drop function monitoring.flag_bucket(text, text);
drop table monitoring.feature_flags;

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
