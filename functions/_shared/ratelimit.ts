/**
 * Per-caller rate limits backed by Postgres token buckets (`monitoring.rate_limit_buckets`),
 * which every instance of a function shares.
 *
 * - `exact` limits take each request's token in Postgres before it runs
 *   (`monitoring.take_token`, atomic): no instance admits a request past the limit.
 * - Other limits cost no write per request: an instance admits a request against the bucket as
 *   it last read it, less what it admitted since, and settles what it admitted for all its
 *   buckets in one call (`monitoring.settle_tokens`) at most every `SETTLE_MS`, reading the
 *   buckets back. A caller's first request in an instance is admitted (a fresh bucket is full)
 *   and the caller's next ones wait for that settlement, so one instance never admits past the
 *   limit; several instances may admit, together, one settlement interval's worth past it,
 *   which the bucket takes back from the caller's next requests (it may go below zero). If
 *   settling fails (the database restarting), the debits are kept and sent with the next one,
 *   and each instance goes on enforcing the limit as it last read it.
 */
import { createHash } from "node:crypto";
import { telemetry } from "./db.ts";
import { HttpError } from "./errors.ts";
import { log } from "./invocations.ts";

export interface RateLimit {
  /** Requests allowed per window. */
  requests: number;
  /** Window length in seconds (the bucket refills continuously over it). */
  perSeconds: number;
  /** Take every request's token in Postgres before the request runs. */
  exact?: boolean;
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

/** How long admitted requests wait, at most, to be settled with the shared buckets. */
export const SETTLE_MS = 100;

/** A shared bucket as this instance knows it. */
interface Bucket {
  limit: RateLimit;
  /** Its tokens when last read (undefined until first read), and when (performance.now()). */
  tokens?: number;
  readAt: number;
  /** Admitted here and not yet settled; of those, the ones in the settlement under way. */
  admitted: number;
  sending: number;
  /** Refused here once (see admittedHere): the database decides its requests until the
   * bucket, as last read, would have refilled and is forgotten. */
  exact?: boolean;
}

const buckets = new Map<string, Bucket>();
let settling: Promise<void> | undefined;
let next: Promise<void> | undefined;

function refill(limit: RateLimit): number {
  return limit.requests / limit.perSeconds;
}

/** Tokens the bucket holds now for this instance: as read, refilled since, less admitted. */
function available(bucket: Bucket, now: number): number {
  const { limit, tokens = limit.requests } = bucket;
  const refilled = Math.min(
    limit.requests,
    tokens + ((now - bucket.readAt) / 1000) * refill(limit),
  );
  return refilled - bucket.admitted;
}

/** Send what was admitted, read the buckets back; resolves when done (never rejects). */
function settle(): Promise<void> {
  if (settling) return settling.then(() => settle());
  const now = performance.now();
  for (const [key, bucket] of buckets) {
    // refilled since it was read and nothing admitted: a caller never seen starts so; forget it
    if (bucket.admitted === 0 && available(bucket, now) >= bucket.limit.requests) {
      buckets.delete(key);
    }
  }
  const due = [...buckets].filter(([, b]) => b.admitted > 0 || b.tokens === undefined);
  if (due.length === 0) return Promise.resolve();
  for (const [, bucket] of due) bucket.sending = bucket.admitted;
  const keys = due.map(([key]) => key);
  const spent = due.map(([, b]) => b.sending);
  const capacities = due.map(([, b]) => b.limit.requests);
  const refills = due.map(([, b]) => refill(b.limit));
  const sent = telemetry()`
    select key, tokens from monitoring.settle_tokens(${keys}::text[], ${spent}::int[],
                                                     ${capacities}::int[], ${refills}::float8[])`
    .then((rows) => {
      const readAt = performance.now();
      for (const row of rows) {
        const bucket = buckets.get(row.key);
        if (!bucket) continue;
        bucket.admitted -= bucket.sending;
        bucket.sending = 0;
        bucket.tokens = Number(row.tokens);
        bucket.readAt = readAt;
      }
    })
    .catch((err) => {
      for (const [, bucket] of due) bucket.sending = 0;
      log("error", { event: "rate-limit-not-settled", error: String(err) });
      void schedule();
    });
  settling = sent.finally(() => (settling = undefined));
  return settling;
}

/** The next settlement, SETTLE_MS from the first admission it carries. */
function schedule(): Promise<void> {
  next ??= new Promise((resolve) =>
    setTimeout(() => {
      next = undefined;
      settle().then(resolve);
    }, SETTLE_MS)
  );
  return next;
}

/**
 * Resolves once what this instance admitted so far is settled (the middleware hands it to the
 * platform with the invocation row, so an instance is not stopped with debits unsent).
 */
export function rateLimitsSettled(): Promise<void> {
  return next ?? settling ?? Promise.resolve();
}

/**
 * This instance's decision for the bucket `name`: 0 when it admits the request (its token
 * taken, settled later), else the seconds until the bucket, as this instance knows it, has one.
 */
async function take(name: string, limit: RateLimit): Promise<number> {
  let bucket = buckets.get(name);
  if (!bucket) {
    // the caller's first request here: admitted, and the bucket read back soon
    bucket = { limit, readAt: performance.now(), admitted: 0, sending: 0 };
    buckets.set(name, bucket);
  } else if (bucket.tokens === undefined) {
    await settle(); // its first request is being settled: decide on the bucket as read
    // (forgotten meanwhile, full again: a new first request may have started it afresh)
    bucket = buckets.get(name) ?? bucket;
    buckets.set(name, bucket);
    if (bucket.exact) return Infinity; // refused here meanwhile: the database decides
  }
  bucket.limit = limit; // a limit changed in its settings applies from the next request
  const left = available(bucket, performance.now());
  if (left < 1) return (1 - left) / refill(limit);
  bucket.admitted += 1;
  void schedule();
  return 0;
}

/** Take a token for `key` or throw RateLimited (429 with Retry-After). */
export async function enforce(fn: string, key: string, limit: RateLimit): Promise<void> {
  const name = `${fn}:${key}`;
  if (limit.exact) {
    const [row] = await telemetry()`
      select monitoring.take_token(${name}, ${limit.requests}, ${refill(limit)}) as wait`;
    const wait = Number(row.wait);
    if (wait > 0) throw new RateLimited(Math.ceil(wait), limit);
    return;
  }
  const wait = await take(name, limit);
  if (wait > 0) throw new RateLimited(Math.ceil(wait), limit);
}

/**
 * For a caller that decides itself what a refusal does (billing's guard blocks the caller):
 * whether this instance admits the request against the shared bucket `<fn>:<key>` as it last
 * read it (a limit that is not `exact`). False: the caller asks the database
 * (`monitoring.take_token` on the same bucket), which then decides this bucket's requests here
 * until it is forgotten; what this instance admitted is settled before this returns, so the
 * database's answer counts every request this instance let through.
 */
export async function admittedHere(fn: string, key: string, limit: RateLimit): Promise<boolean> {
  const name = `${fn}:${key}`;
  if (!buckets.get(name)?.exact && (await take(name, limit)) === 0) return true;
  const bucket = buckets.get(name);
  if (bucket) bucket.exact = true; // from here no request of it is admitted here
  await settle();
  return false;
}

/**
 * Whom a limit counts: who the caller is, never what the client says. A signed-in user by id;
 * an API key (`x-api-key`) by its digest (each key its own bucket, so one tenant's traffic
 * never spends another's); anyone else by the address the platform saw: `x-real-ip`, which the
 * local runtime sets from the connection's peer (overwriting a client's) and Supabase's
 * gateway sets in front of the function. `X-Forwarded-For` is written by the caller and is
 * never read.
 */
export function callerKey(req: Request, caller: { userId?: string }): string {
  if (caller.userId) return `user:${caller.userId}`;
  const apiKey = req.headers.get("x-api-key");
  if (apiKey) {
    // node:crypto hashes in this thread; WebCrypto's digest is a hop to another and back
    return `key:${createHash("sha256").update(apiKey).digest("hex").slice(0, 32)}`;
  }
  return `ip:${req.headers.get("x-real-ip") ?? "unknown"}`;
}
