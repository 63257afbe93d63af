/**
 * Who is calling. With `verify_jwt` on (the default), the gateway has verified the JWT's
 * signature (HS256 with the legacy secret, or ES256 / RS256 with the signing keys) before the
 * function runs, so its claims can be read here; a function deployed with `verify_jwt: false`
 * must accept only callers this module verifies itself: the service role key or a secret API
 * key (`sb_secret_…`, from SUPABASE_SECRET_KEYS), or the job secret (JOB_SECRET function
 * secret) as a bearer token or `x-job-secret`. A publishable key (`sb_publishable_…`) is the
 * anonymous caller, as the legacy anon key is. API keys may come as the bearer or in `apikey`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.ts";

export type CallerKind = "anon" | "user" | "service" | "job";

export interface Caller {
  kind: CallerKind;
  /** The user's id (`sub`), for `user` callers. */
  userId?: string;
  claims?: Record<string, unknown>;
}

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function digest(value: string): Uint8Array {
  return createHash("sha256").update(value).digest();
}

/** The digests of the secrets presented tokens are compared with, each computed once. */
const secretDigests = new Map<string, Uint8Array>();

/**
 * A presented token, compared with secrets in constant time over digests (so lengths do not
 * leak either). The token is hashed once however many secrets it is compared with, and each
 * secret once per instance (a user's call computed four digests before).
 */
class Presented {
  #digest?: Uint8Array;
  constructor(readonly value: string) {}

  is(secret: string): boolean {
    let known = secretDigests.get(secret);
    if (known === undefined) {
      known = digest(secret);
      secretDigests.set(secret, known);
    }
    this.#digest ??= digest(this.value);
    return timingSafeEqual(this.#digest, known);
  }
}

function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  if (!payload) throw new HttpError(401, "UNAUTHORIZED", "Malformed bearer token");
  try {
    const text = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(text);
  } catch {
    throw new HttpError(401, "UNAUTHORIZED", "Malformed bearer token");
  }
}

/** The values of a JSON object of keys (SUPABASE_SECRET_KEYS' shape), read once. */
const keySets = new Map<string, string[]>();
function keysIn(variable: string): string[] {
  let keys = keySets.get(variable);
  if (keys === undefined) {
    try {
      keys = Object.values(JSON.parse(Deno.env.get(variable) ?? "{}")).map(String);
    } catch {
      keys = [];
    }
    keySets.set(variable, keys);
  }
  return keys;
}

function oneOf(token: Presented, variable: string): boolean {
  return token.value.startsWith("sb_") && keysIn(variable).some((key) => token.is(key));
}

/**
 * Users identified so far, by their token (verified by the gateway): ruling the token out as
 * a secret and decoding its claims took 4-5 µs a request (a SHA-256 and two comparisons in
 * node:crypto, the claims' JSON), a lookup 0.1 µs. What a token identifies depends only on it
 * and on the secrets it is compared with, and only users are kept: a user's token is a signed
 * JWT, which no secret equals, whatever secret is set later. At most USERS_KEPT, then
 * forgotten all at once; frozen, as every request of that token shares them. USERS_KEPT is more
 * than the users a worker serves in its life (400 s by default on Supabase), or users in turn
 * each find their token forgotten: 20,000 users for 10 s at 10,000 made user-archetype 10,870
 * req/s, at 50,000 12,066 (the gateway's cache at 50,000). An entry is about 540 bytes (the
 * token and the caller): 27 MB when full, of a worker's 256 MB.
 */
const users = new Map<string, Caller>();
const USERS_KEPT = 50_000;

function remembered(bearer: string, caller: Caller): Caller {
  if (users.size >= USERS_KEPT) users.clear();
  Object.freeze(caller.claims);
  users.set(bearer, Object.freeze(caller));
  return caller;
}

/** Identify the caller of a request (verifying the parts the gateway does not). */
export function identify(req: Request, verifiedByGateway: boolean): Caller {
  const jobSecret = Deno.env.get("JOB_SECRET");
  const presented = req.headers.get("x-job-secret");
  if (presented !== null) {
    if (!jobSecret || !new Presented(presented).is(jobSecret)) {
      throw new HttpError(401, "UNAUTHORIZED", "Invalid job secret");
    }
    return { kind: "job" };
  }
  const bearer = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ??
    req.headers.get("apikey") ?? undefined;
  if (!bearer) return { kind: "anon" };
  const known = verifiedByGateway ? users.get(bearer) : undefined;
  if (known) return known;
  const token = new Presented(bearer);
  if (oneOf(token, "SUPABASE_SECRET_KEYS")) return { kind: "service" };
  if (oneOf(token, "SUPABASE_PUBLISHABLE_KEYS")) return { kind: "anon" };
  // Scheduled jobs (pg_cron through net.http_post) send the job secret from Vault as a bearer.
  if (jobSecret && token.is(jobSecret)) return { kind: "job" };
  const serviceKey = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY") ?? "";
  if (serviceKey && token.is(serviceKey)) return { kind: "service" };
  if (!verifiedByGateway) return { kind: "anon" };
  const claims = claimsOf(bearer);
  if (claims.role === "authenticated") {
    // Supabase user ids are UUIDs (auth.uid() casts `sub` to uuid): any other subject is a
    // malformed identity, refused here rather than failing in SQL as a 500.
    if (typeof claims.sub !== "string" || !USER_ID.test(claims.sub)) {
      throw new HttpError(401, "UNAUTHORIZED", "The token's subject is not a user id");
    }
    return remembered(bearer, { kind: "user", userId: claims.sub, claims });
  }
  return { kind: claims.role === "service_role" ? "service" : "anon", claims };
}

/** Refuse a caller whose kind is not allowed: 401 for anonymous callers, 403 otherwise. */
export function requireCaller(caller: Caller, allowed: readonly CallerKind[]): void {
  if (allowed.includes(caller.kind)) return;
  if (caller.kind === "anon") {
    throw new HttpError(401, "UNAUTHORIZED", `Sign in first (allowed: ${allowed.join(", ")})`);
  }
  throw new HttpError(403, "FORBIDDEN", `A ${caller.kind} caller may not call this function`);
}
