/** Errors a function answers with: JSON `{error: {code, message}, request_id}`, never a stack. */

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);

export function errorBody(error: HttpError, requestId: string): Record<string, unknown> {
  return { error: { code: error.code, message: error.message }, request_id: requestId };
}

/**
 * Integrity rules and concurrency failures, for every app: a request that collides with a
 * unique rule (class 23: two requests with one key at the same instant, say), or that lost a
 * serialization or deadlock race (40001, 40P01), is the caller's to resolve or resend, never a
 * 500. The answer never carries Postgres's own text, whose detail can name another user's row.
 */
const INTEGRITY: Record<string, [number, string, string]> = {
  "23502": [422, "INVALID_INPUT", "A required value is missing"],
  "23503": [422, "INVALID_INPUT", "The request refers to something that does not exist"],
  "23514": [422, "INVALID_INPUT", "A value breaks one of the rules of this request"],
  "40001": [409, "RETRY", "The request collided with another at the same time: send it again"],
  "40P01": [409, "RETRY", "The request collided with another at the same time: send it again"],
};
const CONFLICT: [number, string, string] = [
  409,
  "CONFLICT",
  "The request conflicts with data that exists",
];

/** A value Postgres cannot take (class 22: a NUL character, a number out of range, ...). */
const BAD_VALUE: [number, string, string] = [
  422,
  "INVALID_INPUT",
  "A value is not valid for its field (text may not hold NUL characters)",
];

/** The answer for an integrity, data or concurrency SQLSTATE, or undefined for any other. */
export function integrityError(code: string): HttpError | undefined {
  const mapped = INTEGRITY[code] ??
    (code.startsWith("23") ? CONFLICT : code.startsWith("22") ? BAD_VALUE : undefined);
  return mapped ? new HttpError(mapped[0], mapped[1], mapped[2]) : undefined;
}

/**
 * A translator of an app's own SQLSTATEs (raised by its SQL functions) into HTTP answers with
 * stable codes, then of integrity and concurrency failures (above); any other error is returned
 * as it is (an internal error).
 */
export function sqlStateErrors(
  bySqlState: Record<string, [number, string]>,
): (err: unknown) => unknown {
  return (err) => {
    const code = (err as { code?: string }).code;
    if (!code) return err;
    const mapped = bySqlState[code];
    if (mapped) return new HttpError(mapped[0], mapped[1], (err as Error).message);
    return integrityError(code) ?? err;
  };
}
