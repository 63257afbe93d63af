/**
 * POST {registrationId}: cancel the signed-in user's registration; the seat goes to the first
 * waitlisted registration in the same transaction. Someone else's registration and one that
 * does not exist get the same 404.
 */
import { db, field, json, readJson, serve } from "../../_shared/mod.ts";
import { eventsError } from "../_lib/errors.ts";

serve(import.meta.url, { callers: ["user"] }, async (req, ctx) => {
  const body = await readJson(req);
  const registrationId = field.uuid(body, "registrationId");
  try {
    const [row] = await db()`
      select * from events.cancel_registration(${registrationId}, ${ctx.caller.userId!})`;
    return json(200, { registrationId, status: row.status, promoted: Number(row.promoted) });
  } catch (err) {
    throw eventsError(err);
  }
});
