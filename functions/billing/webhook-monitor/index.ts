/**
 * Webhook delivery statistics (the guide's `webhook-monitor`): events by status, deliveries
 * and their success rate, stuck jobs and dead letters over `?hours=` (default 24, at most
 * 720); POST {requeue: <job id>} puts a dead-lettered job back in the queue. The service only
 * (the numbers describe every customer's payments). The alert rules read the same function.
 */
import { db, field, HttpError, json, readJson, serve, sqlStateErrors } from "../../_shared/mod.ts";

const billingError = sqlStateErrors({ BL404: [404, "NOT_FOUND"] });

serve(import.meta.url, { callers: ["service"] }, async (req) => {
  if (req.method === "POST") {
    const job = field.number(await readJson(req), "requeue", { min: 1 });
    try {
      await db()`select billing.requeue_dead_letter(${Math.floor(job)}::bigint)`;
    } catch (err) {
      throw billingError(err);
    }
    return json(200, { requeued: job });
  }
  if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET or POST");
  const hours = Number(new URL(req.url).searchParams.get("hours") ?? "24");
  if (!Number.isInteger(hours) || hours < 1 || hours > 720) {
    throw new HttpError(422, "INVALID_INPUT", "hours: a whole number, 1 to 720");
  }
  const [row] = await db()`
    select billing.webhook_health(make_interval(hours => ${hours}::integer)) as health`;
  return json(200, row.health);
});
