/**
 * The bidding rules raise their own SQLSTATEs (migrations/bidding): turn them into HTTP
 * statuses with stable codes; anything else stays an internal error.
 */
import { HttpError } from "../../_shared/mod.ts";

const BY_SQLSTATE: Record<string, [number, string]> = {
  BD404: [404, "SESSION_NOT_FOUND"],
  BD403: [403, "NOT_PARTICIPANT"],
  BD409: [409, "SESSION_CLOSED"],
  BD422: [422, "BELOW_MINIMUM"],
};

export function biddingError(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  const mapped = code ? BY_SQLSTATE[code] : undefined;
  if (!mapped) return err;
  return new HttpError(mapped[0], mapped[1], (err as Error).message);
}
