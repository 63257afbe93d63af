/** Input validation: 400 for a body that is not JSON, 422 naming the field that is wrong. */
import { HttpError } from "./errors.ts";

export type Body = Record<string, unknown>;

export async function readJson(req: Request): Promise<Body> {
  let value: unknown;
  try {
    value = await req.json();
  } catch {
    throw new HttpError(400, "BAD_JSON", "The request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "BAD_JSON", "The request body must be a JSON object");
  }
  return value as Body;
}

function invalid(field: string, why: string): HttpError {
  return new HttpError(422, "INVALID_INPUT", `${field}: ${why}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const field = {
  string(body: Body, name: string, opts: { max?: number; optional?: boolean } = {}): string {
    const value = body[name];
    if (value === undefined && opts.optional) return "";
    if (typeof value !== "string" || value.length === 0) throw invalid(name, "a text is required");
    if (opts.max !== undefined && value.length > opts.max) {
      throw invalid(name, `at most ${opts.max} characters`);
    }
    // Postgres's text holds no NUL character, and half of a UTF-16 pair is no character at all
    if (value.includes("\u0000") || !value.isWellFormed()) {
      throw invalid(name, "a text without NUL characters or unpaired surrogates");
    }
    return value;
  },
  uuid(body: Body, name: string): string {
    const value = body[name];
    if (typeof value !== "string" || !UUID.test(value)) throw invalid(name, "a UUID is required");
    return value;
  },
  number(body: Body, name: string, opts: { min?: number; max?: number } = {}): number {
    const value = body[name];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw invalid(name, "a number is required");
    }
    if (opts.min !== undefined && value < opts.min) throw invalid(name, `at least ${opts.min}`);
    if (opts.max !== undefined && value > opts.max) throw invalid(name, `at most ${opts.max}`);
    return value;
  },
};

/** The request's Idempotency-Key header (1-200 characters), required: 400 without one. */
export function idempotencyKey(req: Request): string {
  const key = req.headers.get("idempotency-key")?.trim();
  if (!key || key.length > 200) {
    throw new HttpError(
      400,
      "IDEMPOTENCY_KEY_REQUIRED",
      "Send an Idempotency-Key header (1-200 characters)",
    );
  }
  return key;
}
