/**
 * The queue's worker (the guide's `batch-processor`), every minute from pg_cron: takes due
 * jobs in batches (billing.process_jobs: skipping those another run holds), applies each
 * event in its own subtransaction, retries a failed one after 30 s doubling up to an hour, and
 * dead-letters it after its last attempt (5). Runs batches until the queue has no due job or
 * RUN_BUDGET_MS passes. Callers: pg_cron (job secret), the service.
 */
import { type Body, db, field, json, readJson, serve } from "../../_shared/mod.ts";

/** Below Supabase's 150 s request idle timeout, with room to answer. */
const RUN_BUDGET_MS = 60_000;

serve(import.meta.url, { callers: ["job", "service"] }, async (req) => {
  const body: Body = req.headers.get("content-length") === "0" ? {} : await readJson(req);
  const batch = body.batchSize === undefined
    ? 100
    : field.number(body, "batchSize", { min: 1, max: 1000 });
  const started = performance.now();
  const totals = { succeeded: 0, retried: 0, dead: 0, batches: 0 };
  while (performance.now() - started < RUN_BUDGET_MS) {
    const [done] = await db()`
      select succeeded, retried, dead from billing.process_jobs(${Math.floor(batch)}::integer)`;
    const handled = done.succeeded + done.retried + done.dead;
    totals.succeeded += done.succeeded;
    totals.retried += done.retried;
    totals.dead += done.dead;
    if (handled === 0) break;
    totals.batches += 1;
  }
  return json(200, totals);
});
