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
