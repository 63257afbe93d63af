/**
 * The guide's `migration-controller`, for the service: the traffic migration of
 * subscription-status onto the subscription cache (flag `billing_subscription_cache`; off:
 * every request reads Stripe, the old path; on: the table the webhooks keep, re-read when
 * older than a minute).
 *
 * - POST {operation: "status"}: the flag as deployed, whether it is halted, its newest
 *   rollout (steps, step, state) as `supastack rollout` recorded it, and the last hour's calls
 *   by path (old / new: count, error rate, p95, whether they meet the function's targets).
 * - POST {operation: "execute_rollback", reason}: halt at once. Within 5 s every instance
 *   takes the old path, whatever the percentage; the alert rule billing-traffic-rollback fires
 *   (now, not at the next minute), so its channels hear and a rollout gated on it sets the
 *   flag back in the stack's configuration.
 * - POST {operation: "resume"}: lift the halt.
 *
 * `initialize_migration` and the guide's steps are not here: the percentage is configuration
 * in git (supastack:flags), which `supastack rollout` steps and gates; a function that changed
 * it would be drift that the next `pulumi up --refresh` undoes. The answer says so.
 */
import { db, field, HttpError, json, readJson, serve } from "../../_shared/mod.ts";
import { SUBSCRIPTION_CACHE } from "../_lib/traffic.ts";

/** The command docs/apps/billing.md gives for the migration (the gates: the new path's own
 * figures, the function's errors, an operator's halt). */
const ROLLOUT = `supastack rollout --stack <stack> --flag ${SUBSCRIPTION_CACHE} ` +
  "--steps 5,25,50,100 --hold 15m --gate billing-migration-new-path " +
  "--gate billing-error-rate --gate billing-traffic-rollback";

async function status() {
  const [row] = await db()`
    select
      (select to_jsonb(f) - 'app' from monitoring.feature_flags f
        where f.name = ${SUBSCRIPTION_CACHE}) as flag,
      (select jsonb_build_object('reason', h.reason, 'at', h.halted_at) from billing.traffic_halts h
        where h.flag = ${SUBSCRIPTION_CACHE}) as halted,
      (select jsonb_build_object('id', r.id, 'state', r.state, 'steps', r.steps, 'step', r.step,
                                 'percentage', r.percentage, 'gates', r.gates)
         from monitoring.flag_rollouts r where r.flag = ${SUBSCRIPTION_CACHE}
        order by r.id desc limit 1) as rollout,
      (select coalesce(jsonb_agg(to_jsonb(p)), '[]')
         from billing.migration_paths('subscription-status', '1 hour') p) as paths`;
  return json(200, { name: SUBSCRIPTION_CACHE, ...row });
}

serve(import.meta.url, { callers: ["service"] }, async (req) => {
  if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use POST");
  const body = await readJson(req);
  switch (body.operation) {
    case "status":
      return status();
    case "execute_rollback": {
      const reason = field.string(body, "reason", { max: 500 });
      await db()`
        insert into billing.traffic_halts (flag, reason) values (${SUBSCRIPTION_CACHE}, ${reason})
        on conflict (flag) do update set reason = excluded.reason`;
      await db()`select monitoring.evaluate_alert_rules(array['billing-traffic-rollback'])`;
      return status();
    }
    case "resume":
      await db()`delete from billing.traffic_halts where flag = ${SUBSCRIPTION_CACHE}`;
      return status();
    case "initialize_migration":
    case "update_traffic":
      throw new HttpError(
        409,
        "TRAFFIC_IS_CONFIGURATION",
        `The traffic share is the stack's configuration; step it with: ${ROLLOUT}`,
      );
    default:
      throw new HttpError(
        422,
        "INVALID_INPUT",
        "operation: status, execute_rollback, resume (or initialize_migration, update_traffic)",
      );
  }
});
