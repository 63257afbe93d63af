/**
 * The gateway's check of a request's credentials, as Supabase's does it for a function with
 * `verify_jwt`:
 *
 * - a JWT in `Authorization: Bearer`, verified by its `alg` ("hybrid"): HS256 with the legacy
 *   JWT secret, ES256 / RS256 with the project's signing keys (the JWKS served at
 *   `/auth/v1/.well-known/jwks.json`); any other `alg`, `none` included, is refused;
 * - or one of the project's new API keys (`sb_publishable_…`, `sb_secret_…`), as the bearer or
 *   in the `apikey` header: not JWTs, compared in constant time.
 *
 * A verified token is remembered until it expires (by the whole token, its signature
 * included, so only the very same token is taken without a check; a token without `exp` is
 * checked every time), at most `REMEMBERED` of them: a client sends one token for many
 * requests, and verifying it again cost two WebCrypto operations, each a hop to another thread
 * (a fifth of the runtime's CPU per request under load). The HS256 key is imported once.
 */
import { createLocalJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from "jose";
import { HttpError } from "./http.ts";

export interface JsonWebKeySet {
  keys: Record<string, unknown>[];
}

const ASYMMETRIC = ["ES256", "RS256"];

/**
 * How many verified tokens are remembered (then forgotten all at once and verified again):
 * more than the users one instance serves within a token's lifetime, or users in turn each find
 * their token forgotten. With this and the middleware's (functions/_shared/auth.ts) at 10,000,
 * 20,000 users for 60 s took the runtime 0.11 ms of CPU a request, with both at 50,000 0.06 ms
 * (`python -m bench.personalized --seconds 60`: user-archetype 7,784 and 12,426 req/s). An
 * entry is about 540 bytes (the token and its claims): 27 MB when full.
 */
export const REMEMBERED = 50_000;

function invalid(reason = "Invalid JWT"): HttpError {
  return new HttpError(401, reason, "UNAUTHORIZED_INVALID_JWT_FORMAT");
}

/** Equal strings in constant time over their digests (lengths do not leak either). */
async function sameKey(a: string, b: string): Promise<boolean> {
  const digest = async (v: string) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(v)));
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let differ = 0;
  for (let i = 0; i < x.length; i++) differ |= x[i] ^ y[i];
  return differ === 0;
}

export class JwtVerifier {
  #secret: Promise<CryptoKey>;
  #jwks: ReturnType<typeof createLocalJWKSet>;
  #apiKeys: string[];
  /** Verified tokens and their claims, until `exp` (ms). */
  #verified = new Map<string, { claims: JWTPayload; until: number }>();

  constructor(secret: string, jwks: JsonWebKeySet, apiKeys: string[]) {
    this.#secret = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    this.#jwks = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
    this.#apiKeys = apiKeys;
  }

  async #isApiKey(value: string): Promise<boolean> {
    if (!value.startsWith("sb_")) return false;
    const matches = await Promise.all(this.#apiKeys.map((key) => sameKey(value, key)));
    return matches.includes(true);
  }

  /** Resolves when the request may reach the function; else an HttpError 401 saying why. */
  async verify(authorization: string | null, apikey: string | null): Promise<void> {
    const bearer = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (bearer === undefined) {
      if (apikey !== null && await this.#isApiKey(apikey)) return;
      throw new HttpError(401, "Missing authorization header", "UNAUTHORIZED_NO_AUTH_HEADER");
    }
    if (await this.#isApiKey(bearer)) return;
    await this.claims(bearer);
  }

  /** The verified claims of a JWT. */
  async claims(token: string): Promise<JWTPayload> {
    const known = this.#verified.get(token);
    if (known && Date.now() < known.until) return known.claims;
    if (known) this.#verified.delete(token);
    const claims = await this.#verify(token);
    if (typeof claims.exp === "number") {
      if (this.#verified.size >= REMEMBERED) this.#verified.clear();
      this.#verified.set(token, { claims, until: claims.exp * 1000 });
    }
    return claims;
  }

  async #verify(token: string): Promise<JWTPayload> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw invalid();
    }
    try {
      if (alg === "HS256") {
        return (await jwtVerify(token, await this.#secret, { algorithms: ["HS256"] })).payload;
      }
      if (alg !== undefined && ASYMMETRIC.includes(alg)) {
        return (await jwtVerify(token, this.#jwks, { algorithms: ASYMMETRIC })).payload;
      }
    } catch (err) {
      throw invalid(err instanceof errors.JWTExpired ? "JWT expired" : "Invalid JWT");
    }
    throw invalid();
  }
}
