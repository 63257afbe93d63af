/**
 * POST {sessionId, amount}: place a bid as the signed-in user. verify_jwt is on (the guide
 * deployed with --no-verify-jwt, which would let anyone claim to be anyone): the gateway
 * verifies the JWT and the bid is placed as its `sub`. The rules (open session, participant,
 * minimum increment, auto-bid answers) are enforced in Postgres, atomically per session.
 */
import { db, field, json, readJson, serve } from "../../_shared/mod.ts";
import { biddingError } from "../_lib/errors.ts";

serve(import.meta.url, { callers: ["user"] }, async (req, ctx) => {
  const body = await readJson(req);
  const sessionId = field.uuid(body, "sessionId");
  const amount = field.number(body, "amount", { min: 0.01, max: 1e9 });
  try {
    // the bid and the session it leaves (price and leader after any auto-bids) in one call
    const [bid] = await db()`
      select bid_id, current_price, leader_id
        from public.place_bid(${sessionId}, ${ctx.caller.userId!}, ${amount})`;
    return json(201, {
      bidId: String(bid.bid_id),
      sessionId,
      amount,
      currentPrice: Number(bid.current_price),
      leading: bid.leader_id === ctx.caller.userId,
    });
  } catch (err) {
    throw biddingError(err);
  }
});
