/**
 * Who an ObservAI request speaks for. A machine sends its organization's API key in
 * `x-api-key` (with the project's anon key as the bearer the gateway verifies); a person sends
 * their JWT and names the organization (`?organization=` slug or id). The key never reaches
 * the database: its SHA-256 digest does, and the SQL functions (observai.authorize) find the
 * organization and the caller's rights there, in the same transaction as the work.
 */
import { createHash } from "node:crypto";
import { type Caller, HttpError, sqlStateErrors } from "../../_shared/mod.ts";

export interface Principal {
  /** The API key's SHA-256 digest, or null for a member. */
  keyDigest: Uint8Array | null;
  /** The member's user id, or null for a key. */
  userId: string | null;
  /** The organization named by the request (a key's own when left out). */
  organization: string | null;
}

const KEY = /^oai_[0-9a-f]{40}$/;

export function principal(req: Request, caller: Caller): Principal {
  const organization = new URL(req.url).searchParams.get("organization");
  const key = req.headers.get("x-api-key");
  if (key !== null) {
    // A malformed key is refused like an unknown one: the answer says nothing about keys.
    if (!KEY.test(key)) throw new HttpError(401, "UNAUTHORIZED", "Unknown or revoked API key");
    return {
      keyDigest: new Uint8Array(createHash("sha256").update(key).digest()),
      userId: null,
      organization,
    };
  }
  if (caller.kind !== "user") {
    throw new HttpError(401, "UNAUTHORIZED", "Send an organization API key or sign in");
  }
  if (organization === null) {
    throw new HttpError(422, "INVALID_INPUT", "organization: required for a signed-in member");
  }
  return { keyDigest: null, userId: caller.userId!, organization };
}

/**
 * The SQL functions' SQLSTATEs as HTTP answers. An organization that does not exist and one
 * the caller is not a member of are one answer (OA404), as are a missing alert and another
 * organization's.
 */
export const observaiError = sqlStateErrors({
  OA401: [401, "UNAUTHORIZED"],
  OA403: [403, "FORBIDDEN"],
  OA404: [404, "NOT_FOUND"],
  OA409: [409, "CONFLICT"],
  OA413: [413, "PAYLOAD_TOO_LARGE"],
  OA422: [422, "INVALID_INPUT"],
  OA429: [429, "RATE_LIMITED"],
});
