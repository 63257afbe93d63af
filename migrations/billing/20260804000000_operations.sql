-- The guide's operations (docs/apps/billing.md): performance targets and the summary the
-- performance-optimizer and the alert rules read, what the functions cost (from every
-- invocation the middleware records) against a budget, the production validation, and the
-- kill switch of a traffic migration.

-- The guide's targets: "Subscription operations < 320 ms, quote generation < 950 ms, admin
-- analytics < 480 ms, webhook processing < 180 ms", 500 ms for the rest (its response_time
-- alert), errors below 0.1 %. As 95th percentiles over the window asked.
create table billing.performance_targets (
  function_name text primary key,
  p95_ms double precision not null check (p95_ms > 0),
  max_error_rate double precision not null default 0.001 check (max_error_rate between 0 and 1)
);
insert into billing.performance_targets (function_name, p95_ms) values
  ('subscription-status', 320), ('quote-processor', 950), ('quote-pdf-generator', 950),
  ('webhook-handler', 180), ('webhook-monitor', 480), ('monitoring-alerting', 480),
  ('batch-processor', 500), ('migration-controller', 500), ('production-validator', 500),
  ('security-hardening', 500), ('performance-optimizer', 500);

-- What the functions cost: Supabase bills invocations (not OPTIONS) in packages of a million
-- beyond the plan's quota (docs: Manage Edge Function Invocations usage). One row: the plan
-- of this project and the monthly budget the cost alert compares against.
create table billing.cost_plan (
  id boolean primary key default true check (id),
  plan text not null,
  included_invocations bigint not null,
  package_invocations bigint not null check (package_invocations > 0),
  package_usd numeric(10, 2) not null,
  monthly_budget_usd numeric(10, 2) not null
);
insert into billing.cost_plan (plan, included_invocations, package_invocations, package_usd,
                               monthly_budget_usd)
values ('pro', 2000000, 1000000, 2.00, 100.00);

-- Invocations per function and day, kept after the raw invocation rows are gone; written
-- each night for the day before (and on demand), idempotently.
create table billing.cost_metrics (
  metric_date date not null,
  function_name text not null,
  invocations bigint not null,
  errors bigint not null,
  primary key (metric_date, function_name)
);

-- Traffic migrations stopped by an operator (migration-controller's execute_rollback): while a
-- row is here the functions take the old path for the flag, whatever its percentage, and the
-- alert rule billing-traffic-rollback fires (a rollout gated on it sets the flag back).
create table billing.traffic_halts (
  flag text primary key,
  reason text not null check (length(reason) between 1 and 500),
  halted_at timestamptz not null default now()
);

alter table billing.performance_targets enable row level security;
alter table billing.cost_plan enable row level security;
alter table billing.cost_metrics enable row level security;
alter table billing.traffic_halts enable row level security;

-- Each billing function over `since`: invocations, 5xx share, p50 / p95 against its target.
-- A function not called in the window meets its target (nothing measured says otherwise).
create function billing.performance_summary(since interval)
returns table (function_name text, invocations bigint, error_rate double precision,
               p50_ms double precision, p95_ms double precision, target_p95_ms double precision,
               meets_target boolean)
language sql stable security definer set search_path = '' as $$
  select t.function_name, count(i.id),
         coalesce(avg((i.status >= 500)::int), 0),
         percentile_cont(0.5) within group (order by i.duration_ms),
         percentile_cont(0.95) within group (order by i.duration_ms),
         t.p95_ms,
         coalesce(percentile_cont(0.95) within group (order by i.duration_ms) <= t.p95_ms
                  and avg((i.status >= 500)::int) <= t.max_error_rate, true)
    from billing.performance_targets t
    left join monitoring.function_invocations i
      on i.function_name = t.function_name and i.invoked_at > now() - since
   group by t.function_name, t.p95_ms, t.max_error_rate
   order by t.function_name
$$;

-- A function's calls over `since` by the traffic-migration path that served them (the
-- variant the function recorded): what a rollout's gate compares, the new path on its own.
create function billing.migration_paths(function_name text, since interval)
returns table (variant text, invocations bigint, error_rate double precision,
               p95_ms double precision, meets_target boolean)
language sql stable security definer set search_path = '' as $$
  select i.variant, count(*), avg((i.status >= 500)::int),
         percentile_cont(0.95) within group (order by i.duration_ms),
         percentile_cont(0.95) within group (order by i.duration_ms) <= t.p95_ms
           and avg((i.status >= 500)::int) <= t.max_error_rate
    from monitoring.function_invocations i
    join billing.performance_targets t on t.function_name = i.function_name
   where i.function_name = migration_paths.function_name and i.variant is not null
     and i.invoked_at > now() - since
   group by i.variant, t.p95_ms, t.max_error_rate
   order by i.variant
$$;

-- Record a day's invocations per function (all the stack's functions: the bill is the
-- project's).
create function billing.record_costs(day date) returns bigint
language sql security definer set search_path = '' as $$
  with counted as (
    insert into billing.cost_metrics as m (metric_date, function_name, invocations, errors)
    select day, i.function_name, count(*), count(*) filter (where i.status >= 500)
      from monitoring.function_invocations i
     where i.invoked_at >= day and i.invoked_at < day + 1
     group by i.function_name
    on conflict (metric_date, function_name) do update
      set invocations = excluded.invocations, errors = excluded.errors
    returning 1)
  select count(*) from counted
$$;

-- The month of `day` so far and projected to its end (the rate so far, continued): billed
-- packages and dollars for each, and the budget. Days before today come from cost_metrics,
-- today from the live invocations.
create function billing.monthly_cost(day date default current_date)
returns table (month date, invocations bigint, projected_invocations bigint, cost_usd numeric,
               projected_usd numeric, budget_usd numeric)
language sql stable security definer set search_path = '' as $$
  with plan as (select * from billing.cost_plan),
  span as (
    select date_trunc('month', day)::date as first,
           (date_trunc('month', day) + interval '1 month')::date as next),
  used as (
    select coalesce((select sum(m.invocations) from billing.cost_metrics m, span
                      where m.metric_date >= span.first and m.metric_date < least(span.next, current_date)), 0)
         + (select count(*) from monitoring.function_invocations i, span
             where i.invoked_at >= greatest(current_date, span.first)
               and i.invoked_at < span.next) as n),
  elapsed as (
    select span.*, greatest(extract(epoch from least(now(), span.next::timestamptz)
                                    - span.first::timestamptz), 3600)
                   / extract(epoch from span.next::timestamptz - span.first::timestamptz)
             as share
      from span)
  select e.first, u.n::bigint, (u.n / e.share)::bigint,
         ceil(greatest(u.n - p.included_invocations, 0)::numeric / p.package_invocations)
           * p.package_usd,
         ceil(greatest(u.n / e.share - p.included_invocations, 0)::numeric / p.package_invocations)
           * p.package_usd,
         p.monthly_budget_usd
    from used u, elapsed e, plan p
$$;

-- The checks of production-validator: each with whether it passed and what it saw. `quick`:
-- the pipeline and the alerts; otherwise also the security scan, the scheduled jobs, the
-- performance targets over a day and the catalog.
create function billing.validate_production(comprehensive boolean)
returns table (check_name text, passed boolean, detail jsonb)
language plpgsql stable security definer set search_path = '' as $$
declare
  health jsonb := billing.webhook_health('24 hours');
begin
  return query select 'no webhook job is stuck or dead-lettered',
    (health ->> 'stuck')::int = 0 and (health ->> 'deadLetters')::int = 0,
    jsonb_build_object('stuck', health -> 'stuck', 'deadLetters', health -> 'deadLetters');
  return query select 'no billing alert is firing', count(*) = 0,
    jsonb_build_object('firing', coalesce(jsonb_agg(r.name), '[]'))
    from monitoring.alert_rules r where r.name like 'billing-%' and r.state = 'firing';
  return query select 'no traffic migration is halted', count(*) = 0,
    jsonb_build_object('halted', coalesce(jsonb_agg(h.flag), '[]'))
    from billing.traffic_halts h;
  if not comprehensive then
    return;
  end if;
  return query select 'the security scan finds nothing', bool_and(s.passed),
    jsonb_build_object('failed', coalesce(jsonb_agg(s.check_name) filter (where not s.passed), '[]'))
    from billing.security_scan() s;
  return query select 'the scheduled jobs are active and none failed in a day',
    bool_and(j.active) and count(d.runid) = 0,
    jsonb_build_object('jobs', jsonb_agg(distinct j.jobname), 'failedRuns', count(d.runid))
    from cron.job j
    left join cron.job_run_details d on d.jobid = j.jobid and d.status = 'failed'
                                     and d.start_time > now() - interval '1 day'
   where j.jobname like 'billing-%';
  return query select 'every function meets its p95 and error targets over a day',
    bool_and(p.meets_target),
    jsonb_build_object('missed', coalesce(jsonb_agg(p.function_name) filter (where not p.meets_target), '[]'))
    from billing.performance_summary('1 day') p;
  return query select 'prices are on sale to quote', count(*) > 0,
    jsonb_build_object('prices', count(*))
    from billing.prices pr where pr.active;
end
$$;

revoke execute on function billing.performance_summary(interval),
  billing.migration_paths(text, interval), billing.record_costs(date),
  billing.monthly_cost(date), billing.validate_production(boolean) from public;
