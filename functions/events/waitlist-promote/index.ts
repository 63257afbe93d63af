/** A scheduled job (every minute): give free seats to the first waitlisted registrations. */
import { db, json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["job", "service"] }, async () => {
  const [row] = await db()`select events.promote_all_waitlists() as n`;
  return json(200, { promoted: Number(row.n) });
});
