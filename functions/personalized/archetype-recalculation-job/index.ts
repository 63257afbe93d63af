/**
 * POST {config: {batchSize, onlyStaleUsers}}: recompute archetypes, a batch per transaction,
 * as one run (one personalized.archetype_job_logs row). Idempotent (the same history gives the
 * same archetype) and resumable: a run whose process stopped is taken over by the next call
 * after two minutes without a sign of life, at its cursor. A run goes on for at most
 * RUN_BUDGET_MS in one call; one that is not finished then is paused, answers 202, and the
 * next call resumes it at once. Two calls at once: the second is refused (409).
 * Callers: the nightly pg_cron job (job secret) and the service.
 */
import { type Body, db, field, HttpError, json, readJson, serve } from "../../_shared/mod.ts";
import { personalizedError } from "../_lib/access.ts";

/** Below Supabase's 150 s wall-clock limit for a request, with room to record the run. */
const RUN_BUDGET_MS = 120_000;

function config(body: Body): { batchSize: number; onlyStaleUsers: boolean } {
  const given = body.config;
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw new HttpError(422, "INVALID_INPUT", "config: an object is required");
  }
  const chosen = given as Body;
  const batchSize = field.number(chosen, "batchSize", { min: 1, max: 1000 });
  if (!Number.isInteger(batchSize)) {
    throw new HttpError(422, "INVALID_INPUT", "batchSize: a whole number is required");
  }
  if (typeof chosen.onlyStaleUsers !== "boolean") {
    throw new HttpError(422, "INVALID_INPUT", "onlyStaleUsers: true or false is required");
  }
  const unknown = Object.keys(chosen).filter((k) => k !== "batchSize" && k !== "onlyStaleUsers");
  if (unknown.length) throw new HttpError(422, "INVALID_INPUT", `config.${unknown[0]}: unknown`);
  return { batchSize, onlyStaleUsers: chosen.onlyStaleUsers };
}

serve(import.meta.url, { callers: ["job", "service"] }, async (req) => {
  const wanted = config(await readJson(req));
  const started = performance.now();
  let run: number;
  try {
    const [row] = await db()`
      select personalized.start_recalculation(jsonb_build_object(
        'batchSize', ${wanted.batchSize}::integer,
        'onlyStaleUsers', ${wanted.onlyStaleUsers}::boolean)) as id`;
    run = Number(row.id);
  } catch (err) {
    throw personalizedError(err);
  }
  try {
    while (performance.now() - started < RUN_BUDGET_MS) {
      const [batch] = await db()`select personalized.recalculate_batch(${run}) as seen`;
      if (batch.seen === 0) {
        const [done] = await db()`select * from personalized.finish_recalculation(${run})`;
        return json(200, {
          runId: run,
          status: done.status,
          processed: Number(done.processed),
          failed: Number(done.failed),
        });
      }
    }
    await db()`select personalized.pause_recalculation(${run})`;
    const [now] = await db()`
      select processed, failed from personalized.archetype_job_logs where id = ${run}`;
    return json(202, {
      runId: run,
      status: "running",
      processed: Number(now.processed),
      failed: Number(now.failed),
    });
  } catch (err) {
    await db()`select personalized.finish_recalculation(${run}, ${String(err)})`;
    throw err;
  }
});
