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
 * A translator of an app's own SQLSTATEs (raised by its SQL functions) into HTTP answers with
 * stable codes; any other error is returned as it is (an internal error).
 */
export function sqlStateErrors(
  bySqlState: Record<string, [number, string]>,
): (err: unknown) => unknown {
  return (err) => {
    const code = (err as { code?: string }).code;
    const mapped = code ? bySqlState[code] : undefined;
    if (!mapped) return err;
    return new HttpError(mapped[0], mapped[1], (err as Error).message);
  };
}
