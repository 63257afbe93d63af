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

/**
 * Whom a limit counts: who the caller is, never what the client says. A signed-in user by id;
 * an API key (`x-api-key`) by its digest (each key its own bucket, so one tenant's traffic
 * never spends another's); anyone else by the address the platform saw: `x-real-ip`, which the
 * local runtime sets from the connection's peer (overwriting a client's) and Supabase's
 * gateway sets in front of the function. `X-Forwarded-For` is written by the caller and is
 * never read.
 */
export async function callerKey(req: Request, caller: { userId?: string }): Promise<string> {
  if (caller.userId) return `user:${caller.userId}`;
  const apiKey = req.headers.get("x-api-key");
  if (apiKey) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(apiKey));
    return `key:${
      Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, "0"))
        .join("")
    }`;
  }
  return `ip:${req.headers.get("x-real-ip") ?? "unknown"}`;
}
