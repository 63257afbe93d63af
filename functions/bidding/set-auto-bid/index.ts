/**
 * POST {sessionId, maxAmount}: set the signed-in participant's auto-bid ceiling; if someone
 * else leads, the auto-bid answers at once (never above the ceiling).
 */
import { db, field, json, readJson, serve } from "../../_shared/mod.ts";
import { biddingError } from "../_lib/errors.ts";

serve(import.meta.url, { callers: ["user"] }, async (req, ctx) => {
  const body = await readJson(req);
  const sessionId = field.uuid(body, "sessionId");
  const maxAmount = field.number(body, "maxAmount", { min: 0.01, max: 1e9 });
  try {
    const [row] = await db()`
      select public.set_auto_bid(${sessionId}, ${ctx.caller.userId!}, ${maxAmount}) as state`;
    return json(200, { sessionId, maxAmount, ...row.state });
  } catch (err) {
    throw biddingError(err);
  }
});
