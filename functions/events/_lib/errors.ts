/**
 * The booking RPCs raise their own SQLSTATEs (migrations/events): turn them into HTTP statuses
 * with stable codes; anything else stays an internal error. "Does not exist" and "not yours"
 * are one SQLSTATE (EV404), so a caller learns nothing about registrations it cannot read.
 */
import { sqlStateErrors } from "../../_shared/mod.ts";

export const eventsError = sqlStateErrors({
  EV404: [404, "NOT_FOUND"],
  EV409: [409, "CONFLICT"],
  EV422: [422, "INVALID_INPUT"],
});
