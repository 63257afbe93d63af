/**
 * Who is asking about whom: a user about themselves, an admin (Supabase's convention:
 * `app_metadata.role` is "admin" in the verified JWT) about anyone, the service about anyone.
 * The SQL functions check again and audit an admin's read of someone else.
 */
import { type Caller, HttpError, sqlStateErrors } from "../../_shared/mod.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Asker {
  /** Who asks (the service acts as the subject itself). */
  caller: string;
  isAdmin: boolean;
  /** Whose data. */
  subject: string;
}

export function isAdmin(caller: Caller): boolean {
  const metadata = caller.claims?.app_metadata as Record<string, unknown> | undefined;
  return metadata?.role === "admin";
}

/** The subject from `?userId=` (default: the signed-in user), checked to be a UUID. */
export function asker(url: URL, caller: Caller): Asker {
  const given = url.searchParams.get("userId");
  if (given !== null && !UUID.test(given)) {
    throw new HttpError(422, "INVALID_INPUT", "userId: a UUID is required");
  }
  if (caller.kind === "service") {
    if (given === null) throw new HttpError(422, "INVALID_INPUT", "userId: required");
    return { caller: given, isAdmin: false, subject: given };
  }
  const subject = given ?? caller.userId!;
  return { caller: caller.userId!, isAdmin: isAdmin(caller), subject };
}

/** The SQL functions' SQLSTATEs as HTTP answers; anything else stays an internal error. */
export const personalizedError = sqlStateErrors({
  PD403: [403, "FORBIDDEN"],
  PD404: [404, "NOT_FOUND"],
  PD409: [409, "CONFLICT"],
  PD422: [422, "INVALID_INPUT"],
});
