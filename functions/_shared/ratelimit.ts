/**
 * Per-caller rate limits backed by Postgres: `monitoring.take_token` is an atomic token bucket,
 * so every instance of a function (and every concurrent request) shares one budget.
 */
import { telemetry } from "./db.ts";
import { HttpError } from "./errors.ts";

export interface RateLimit {
  /** Requests allowed per window. */
  requests: number;
  /** Window length in seconds (the bucket refills continuously over it). */
  perSeconds: number;
}

export class RateLimited extends HttpError {
  constructor(readonly retryAfter: number, limit: RateLimit) {
    super(
      429,
      "RATE_LIMITED",
      `At most ${limit.requests} requests per ${limit.perSeconds} s; retry in ${retryAfter} s`,
    );
  }
}

/** Take a token for `key` or throw RateLimited (429 with Retry-After). */
export async function enforce(fn: string, key: string, limit: RateLimit): Promise<void> {
  const [row] = await telemetry()`
    select monitoring.take_token(${`${fn}:${key}`}, ${limit.requests},
                                 ${limit.requests / limit.perSeconds}) as wait`;
  const wait = Number(row.wait);
  if (wait > 0) throw new RateLimited(Math.ceil(wait), limit);
}
