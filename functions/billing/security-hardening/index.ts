/**
 * The guide's `security-hardening`, for the service:
 *
 * - POST {operation: "security_scan"}: billing.security_scan() over the whole database (API
 *   roles reaching a table without RLS, security definer functions without a fixed
 *   search_path, secrets read from database settings, credentials in scheduled jobs, threat
 *   detection switched off): each check with what fails it, and `passed`.
 * - POST {operation: "incidents", days?}: what the guards recorded (default 1 day, at most 90),
 *   counted by type and level, the 50 newest, and the callers blocked now.
 * - POST {operation: "unblock", subject}: lift a block (`user:<id>` / `ip:<address>`) and
 *   refill the caller's bucket.
 */
import { db, field, HttpError, json, readJson, serve } from "../../_shared/mod.ts";

const OPERATIONS = ["security_scan", "incidents", "unblock"];

serve(import.meta.url, { callers: ["service"] }, async (req) => {
  if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use POST");
  const body = await readJson(req);
  const operation = field.string(body, "operation", { max: 40 });
  if (operation === "security_scan") {
    const checks = await db()`
      select check_name as check, passed, findings from billing.security_scan()`;
    return json(200, { passed: checks.every((c) => c.passed), checks });
  }
  if (operation === "incidents") {
    const days = body.days === undefined ? 1 : field.number(body, "days", { min: 1, max: 90 });
    const [row] = await db()`
      with recent as (
        select * from billing.security_incidents
         where created_at > now() - make_interval(days => ${Math.floor(days)}::integer))
      select
        (select coalesce(jsonb_object_agg(k, n), '{}') from
           (select event_type || '/' || threat_level as k, count(*) as n from recent group by 1) c)
          as counts,
        (select coalesce(jsonb_agg(r order by r.created_at desc), '[]') from
           (select id, created_at, event_type, threat_level, subject, function_name, detail,
                   auto_response from recent order by created_at desc limit 50) r) as newest,
        (select coalesce(jsonb_agg(jsonb_build_object('subject', subject, 'until', blocked_until,
                                                      'reason', reason)), '[]')
           from billing.blocks where blocked_until > now()) as blocked`;
    return json(200, row);
  }
  if (operation === "unblock") {
    const subject = field.string(body, "subject", { max: 200 });
    const [row] = await db()`select billing.unblock(${subject}) as unblocked`;
    return json(200, row);
  }
  throw new HttpError(422, "INVALID_INPUT", `operation: one of ${OPERATIONS.join(", ")}`);
});
