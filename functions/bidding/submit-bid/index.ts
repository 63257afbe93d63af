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
    const [bid] = await db()`
      insert into public.bids (session_id, user_id, amount)
      values (${sessionId}, ${ctx.caller.userId!}, ${amount})
      returning bid_id`;
    const [session] = await db()`
      select current_price, leader_id from public.bidding_sessions
      where session_id = ${sessionId}`;
    return json(201, {
      bidId: String(bid.bid_id),
      sessionId,
      amount,
      currentPrice: Number(session.current_price),
      leading: session.leader_id === ctx.caller.userId,
    });
  } catch (err) {
    throw biddingError(err);
  }
});
