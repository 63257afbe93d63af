/** The shared middleware of supastack functions: `serve(import.meta.url, options, handler)`. */
export type { Caller, CallerKind } from "./auth.ts";
export { badRequest, HttpError, sqlStateErrors } from "./errors.ts";
export {
  type Context,
  handle,
  type Handler,
  inBackground,
  json,
  serve,
  type ServeOptions,
} from "./handler.ts";
export { admittedHere, callerKey, type RateLimit, RateLimited } from "./ratelimit.ts";
export { log } from "./invocations.ts";
export { db, type Fragment, telemetry } from "./db.ts";
export { flag } from "./flags.ts";
export { type Body, field, idempotencyKey, readJson } from "./validate.ts";
