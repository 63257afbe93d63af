/**
 * The bidding rules raise their own SQLSTATEs (migrations/bidding): turn them into HTTP
 * statuses with stable codes; anything else stays an internal error. A session that does not
 * exist and one the caller does not take part in are the same answer (BD404), so a caller
 * learns nothing about sessions it cannot read.
 */
import { HttpError } from "../../_shared/mod.ts";

const BY_SQLSTATE: Record<string, [number, string]> = {
  BD404: [404, "SESSION_NOT_FOUND"],
  BD409: [409, "SESSION_CLOSED"],
  BD422: [422, "BELOW_MINIMUM"],
};

export function biddingError(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  const mapped = code ? BY_SQLSTATE[code] : undefined;
  if (!mapped) return err;
  return new HttpError(mapped[0], mapped[1], (err as Error).message);
}
