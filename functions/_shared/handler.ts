/**
 * `serve(import.meta.url, options, handler)`: the middleware every function goes through.
 *
 * In order: a request id; CORS preflight; the caller (see auth.ts) checked against
 * `options.callers`; the rate limit from the function's config; the body, read up to the
 * function's `maxBodyBytes` (413 past it, see body.ts); the handler; errors as JSON
 * with the request id; one log line and one invocation row, written after the response, as
 * are the rate limits' debits (see ratelimit.ts).
 */
import { type Caller, type CallerKind, identify, requireCaller } from "./auth.ts";
import { withBodyLimit } from "./body.ts";
import { type FunctionConfig, loadConfig } from "./config.ts";
import { corsHeaders } from "./cors.ts";
import { errorBody, HttpError, integrityError } from "./errors.ts";
import { flushDrains, type Invocation, log, record } from "./invocations.ts";
import { callerKey, enforce, RateLimited, rateLimitsSettled } from "./ratelimit.ts";

export interface Context {
  requestId: string;
  caller: Caller;
  config: FunctionConfig;
  /** Which path of a traffic migration served the call ("old" / "new"): a handler with two
   * sets it, and it is recorded with the invocation (monitoring.function_invocations.variant). */
  variant?: string;
}

export interface ServeOptions {
  /** Who may call (default: signed-in users). */
  callers?: readonly CallerKind[];
}

export type Handler = (req: Request, ctx: Context) => Promise<Response> | Response;

export function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function failure(thrown: unknown, requestId: string): { response: Response; errorClass: string } {
  // an integrity or concurrency failure no app translated is still the caller's, never a 500
  const code = (thrown as { code?: unknown } | null)?.code;
  const err = typeof code === "string" && !(thrown instanceof HttpError)
    ? integrityError(code) ?? thrown
    : thrown;
  if (err instanceof HttpError) {
    const retry: Record<string, string> = err instanceof RateLimited
      ? { "retry-after": `${err.retryAfter}` }
      : {};
    return { response: json(err.status, errorBody(err, requestId), retry), errorClass: err.code };
  }
  log("error", { event: "unhandled", requestId, error: String(err) });
  const internal = new HttpError(500, "INTERNAL", "Internal error");
  return {
    response: json(500, errorBody(internal, requestId)),
    errorClass: err instanceof Error ? err.constructor.name : "Error",
  };
}

/**
 * The response with `extra` headers: set on it where its headers may change (a Response the
 * handler made), else on a copy (one from fetch(), whose headers are immutable). A copy wraps
 * the body in a stream the server then pumps: copying every response was a fifth of the
 * middleware's CPU per request.
 */
function withHeaders(response: Response, extra: Record<string, string>): Response {
  try {
    for (const [name, value] of Object.entries(extra)) response.headers.set(name, value);
    return response;
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    const headers = new Headers(response.headers);
    for (const [name, value] of Object.entries(extra)) headers.set(name, value);
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  }
}

/** Background work the platform should let finish (Supabase's EdgeRuntime.waitUntil). */
export function inBackground(work: Promise<void>): void {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil(p: Promise<unknown>): void } })
    .EdgeRuntime;
  runtime?.waitUntil(work);
}

/** The request handler (exported so tests can call it without a server). */
export function handle(
  entrypointUrl: string,
  options: ServeOptions,
  handler: Handler,
  afterResponse: (work: Promise<void>) => void = inBackground,
): (req: Request) => Promise<Response> {
  const configured = loadConfig(entrypointUrl);
  const callers = options.callers ?? ["user"];
  return async (req: Request): Promise<Response> => {
    const started = performance.now();
    const requestId = req.headers.get("x-request-id") ?? crypto.randomUUID();
    const cors = corsHeaders(req);
    const config = await configured;
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
    let response: Response;
    let errorClass: string | undefined;
    let ctx: Context | undefined;
    try {
      const caller = identify(req, config.verifyJwt);
      requireCaller(caller, callers);
      if (config.rateLimit) {
        await enforce(config.name, callerKey(req, caller), config.rateLimit);
      }
      const limited = await withBodyLimit(req, config.maxBodyBytes);
      ctx = { requestId, caller, config };
      response = await handler(limited, ctx);
    } catch (err) {
      ({ response, errorClass } = failure(err, requestId));
    }
    response = withHeaders(response, { ...cors, "x-request-id": requestId });
    const invocation: Invocation = {
      function: config.name,
      status: response.status,
      durationMs: performance.now() - started,
      errorClass,
      requestId,
      variant: ctx?.variant,
    };
    afterResponse(
      Promise.all([record(invocation).then(flushDrains), rateLimitsSettled()]).then(() => {}),
    );
    return response;
  };
}

export function serve(entrypointUrl: string, options: ServeOptions, handler: Handler): void {
  Deno.serve(handle(entrypointUrl, options, handler));
}
