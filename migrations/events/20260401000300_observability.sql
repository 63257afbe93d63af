-- The guide's health checks, cron and performance summaries and active alerts: functions the
-- service calls (and `supastack smoke` through the app's verify: section). Each check writes a
-- health_checks row, which the database-response alert rules read.

create function events.health_check_database() returns jsonb
language plpgsql set search_path = '' as $$
declare
  started timestamptz := clock_timestamp();
  connections integer;
  limit_ integer := current_setting('max_connections')::integer;
  response_ms double precision;
  verdict text;
begin
  select count(*) into connections from pg_catalog.pg_stat_activity;
  perform 1 from events.class_events limit 1;
  response_ms := extract(epoch from clock_timestamp() - started) * 1000;
  verdict := case when response_ms > 1000 or connections > 0.95 * limit_ then 'unhealthy'
                  when response_ms > 500 or connections > 0.8 * limit_ then 'degraded'
                  else 'healthy' end;
  insert into events.health_checks (check_name, status, response_ms, details)
  values ('database', verdict, response_ms,
          jsonb_build_object('connections', connections, 'max_connections', limit_));
  return jsonb_build_object('check', 'database', 'status', verdict, 'response_ms', response_ms,
                            'connections', connections, 'max_connections', limit_);
end
$$;

create function events.health_check_booking_system() returns jsonb
language plpgsql set search_path = '' as $$
declare
  started timestamptz := clock_timestamp();
  miscounted bigint;
  stuck_waitlists bigint;
  expired_holds bigint;
  verdict text;
begin
  -- the guide's booking-conflict query: confirmed registrations against reg_count
  select count(*) into miscounted from (
    select e.id from events.class_events e
    left join events.registrations r on r.event_id = e.id and r.status = 'confirmed'
    group by e.id, e.reg_count having count(r.id) <> e.reg_count) bad;
  select count(*) into stuck_waitlists from events.class_events e
  where e.reg_count + e.hold_count < e.capacity and e.starts_at > now()
    and e.seat_freed_at < now() - interval '5 minutes'
    and exists (select 1 from events.event_waitlists w
                where w.event_id = e.id and w.promoted_at is null);
  select count(*) into expired_holds from events.registrations
  where status = 'pending' and hold_expires_at < now() - interval '5 minutes';
  verdict := case when miscounted > 0 then 'unhealthy'
                  when stuck_waitlists > 0 or expired_holds > 0 then 'degraded'
                  else 'healthy' end;
  insert into events.health_checks (check_name, status, response_ms, details)
  values ('booking_system', verdict, extract(epoch from clock_timestamp() - started) * 1000,
          jsonb_build_object('miscounted_events', miscounted, 'stuck_waitlists', stuck_waitlists,
                             'expired_holds', expired_holds));
  return jsonb_build_object('check', 'booking_system', 'status', verdict,
                            'miscounted_events', miscounted, 'stuck_waitlists', stuck_waitlists,
                            'expired_holds', expired_holds);
end
$$;

create function events.get_system_health_summary() returns jsonb
language plpgsql set search_path = '' as $$
declare
  checks jsonb := jsonb_build_array(events.health_check_database(),
                                    events.health_check_booking_system());
begin
  return jsonb_build_object(
    'status', case when checks @> '[{"status": "unhealthy"}]' then 'unhealthy'
                   when checks @> '[{"status": "degraded"}]' then 'degraded'
                   else 'healthy' end,
    'checks', checks,
    'checked_at', now());
end
$$;

-- The jobs of this database and how their last run went (PL/pgSQL: pg_cron's tables are
-- looked up when called, so the migration applies before pg_cron is there too).
create function events.get_cron_job_status() returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return (
    select coalesce(jsonb_agg(jsonb_build_object(
             'job', j.jobname, 'schedule', j.schedule, 'active', j.active,
             'last_status', last.status, 'last_run', last.end_time) order by j.jobname), '[]')
    from cron.job j
    left join lateral (select d.status, d.end_time from cron.job_run_details d
                       where d.jobid = j.jobid order by d.start_time desc limit 1) last on true
    where j.database = current_database());
end
$$;

create function events.get_cron_job_history(p_hours integer) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return (
    select coalesce(jsonb_agg(jsonb_build_object(
             'job', j.jobname, 'runs', runs.total, 'failed', runs.failed,
             'last_run', runs.last_run) order by j.jobname), '[]')
    from cron.job j
    join lateral (select count(*) as total, count(*) filter (where d.status = 'failed') as failed,
                         max(d.end_time) as last_run
                  from cron.job_run_details d
                  where d.jobid = j.jobid
                    and d.start_time > now() - make_interval(hours => p_hours)) runs on true
    where j.database = current_database());
end
$$;

create function events.get_booking_performance_summary() returns jsonb
language sql stable set search_path = '' as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'operation', operation, 'avg_ms', round(avg_ms::numeric, 2),
           'p95_ms', round(p95_ms::numeric, 2), 'count', n) order by operation), '[]')
  from (select tags ->> 'operation' as operation, avg(metric_value) as avg_ms,
               percentile_cont(0.95) within group (order by metric_value) as p95_ms,
               count(*) as n
        from events.performance_metrics
        where metric_name = 'booking_operation_duration'
          and recorded_at > now() - interval '24 hours'
        group by tags ->> 'operation') per_operation
$$;

-- The platform's alert rules of this app that are firing or about to (monitoring app).
create view events.active_alerts with (security_invoker = true) as
select r.name, r.severity, r.state, r.last_value, r.threshold, r.pending_since,
       r.last_evaluated_at
from monitoring.alert_rules r
where r.state <> 'ok' and r.name like 'events-%';

revoke execute on all functions in schema events from public;
grant execute on function events.is_org_staff(uuid) to authenticated;
