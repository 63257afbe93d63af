/**
 * The bidding rules raise their own SQLSTATEs (migrations/bidding): turn them into HTTP
 * statuses with stable codes; anything else stays an internal error. A session that does not
 * exist and one the caller does not take part in are the same answer (BD404), so a caller
 * learns nothing about sessions it cannot read.
 */
import { sqlStateErrors } from "../../_shared/mod.ts";

export const biddingError = sqlStateErrors({
  BD404: [404, "SESSION_NOT_FOUND"],
  BD409: [409, "SESSION_CLOSED"],
  BD422: [422, "BELOW_MINIMUM"],
});
