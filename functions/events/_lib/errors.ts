/**
 * The booking RPCs raise their own SQLSTATEs (migrations/events): turn them into HTTP statuses
 * with stable codes; anything else stays an internal error. "Does not exist" and "not yours"
 * are one SQLSTATE (EV404), so a caller learns nothing about registrations it cannot read.
 */
import { HttpError } from "../../_shared/mod.ts";

const BY_SQLSTATE: Record<string, [number, string]> = {
  EV404: [404, "NOT_FOUND"],
  EV409: [409, "CONFLICT"],
  EV422: [422, "INVALID_INPUT"],
};

export function eventsError(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  const mapped = code ? BY_SQLSTATE[code] : undefined;
  if (!mapped) return err;
  return new HttpError(mapped[0], mapped[1], (err as Error).message);
}
