/**
 * A scheduled job (daily): make the events of every active series up to {until} (default: 120
 * days ahead). Idempotent; never past the partitions pg_partman has made (it says how far).
 */
import { db, HttpError, json, readJson, serve } from "../../_shared/mod.ts";

const DATE = /^\d{4}-\d{2}-\d{2}$/;

serve(import.meta.url, { callers: ["job", "service"] }, async (req) => {
  const body = await readJson(req);
  const until = body.until ?? new Date(Date.now() + 120 * 86_400_000).toISOString().slice(0, 10);
  if (typeof until !== "string" || !DATE.test(until)) {
    throw new HttpError(422, "INVALID_INPUT", "until: a date (YYYY-MM-DD) is required");
  }
  const [row] = await db()`select * from events.generate_events_for_all(${until}::date)`;
  return json(200, {
    created: Number(row.events_created),
    generatedUntil: row.generated_until.toISOString().slice(0, 10),
  });
});
