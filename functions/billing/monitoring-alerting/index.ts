/**
 * The guide's monitoring dashboard (`monitoring-alerting`), for the service: GET one JSON of
 * the last `?hours=` (default 1, at most 168): each billing function's invocations, error
 * rate, p50 / p95 against its target; the billing alert rules and their state; the webhook
 * pipeline's health; security incidents by type and level; the month's function cost so far
 * and projected, against the budget. Every figure is read from what the platform records
 * (invocations, alert state, incidents), none is a constant.
 */
import { db, HttpError, json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["service"] }, async (req) => {
  if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET");
  const hours = Number(new URL(req.url).searchParams.get("hours") ?? "1");
  if (!Number.isInteger(hours) || hours < 1 || hours > 168) {
    throw new HttpError(422, "INVALID_INPUT", "hours: a whole number, 1 to 168");
  }
  const [row] = await db()`
    with window_length as (select make_interval(hours => ${hours}::integer) as w)
    select
      (select jsonb_agg(to_jsonb(p)) from window_length, billing.performance_summary(w) p)
        as performance,
      (select coalesce(jsonb_agg(jsonb_build_object(
                'name', r.name, 'severity', r.severity, 'state', r.state,
                'value', r.last_value, 'threshold', r.threshold,
                'evaluatedAt', r.last_evaluated_at) order by r.name), '[]')
         from monitoring.alert_rules r where r.name like 'billing-%') as alerts,
      (select billing.webhook_health(w) from window_length) as webhooks,
      (select coalesce(jsonb_object_agg(k, n), '{}') from
         (select event_type || '/' || threat_level as k, count(*) as n
            from billing.security_incidents, window_length
           where created_at > now() - w group by 1) s) as security,
      (select to_jsonb(c) from billing.monthly_cost() c) as cost`;
  return json(200, { hours, ...row });
});
