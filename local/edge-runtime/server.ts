/**
 * The local edge runtime: Supabase's function gateway and the Management API subset on one port.
 *
 *   /functions/v1/<slug>[/...]  invoke the newest version (JWT checked when verify_jwt)
 *   /v1/projects/{ref}/...      Management API subset (see management.ts)
 *   /_internal/health           liveness, for `supastack local up` and status
 */
import type { RuntimeConfig } from "./config.ts";
import { FunctionStore } from "./functions.ts";
import { HttpError, json } from "./http.ts";
import { JwtVerifier } from "./jwt.ts";
import { BootError, HandlerCache, realServe } from "./loader.ts";
import { JsonLog } from "./log.ts";
import { handleManagement, type ManagementContext } from "./management.ts";
import { SecretStore } from "./secrets.ts";

const FUNCTION_PATH = /^\/functions\/v1\/([^/]+)(\/.*)?$/;

export interface Runtime {
  server: Deno.HttpServer;
  close(): Promise<void>;
}

export async function startRuntime(config: RuntimeConfig): Promise<Runtime> {
  for (const [name, value] of Object.entries(config.functionEnv)) Deno.env.set(name, value);
  await Deno.mkdir(`${config.stateDir}/logs`, { recursive: true });
  const functions = await FunctionStore.open(config.stateDir);
  const secrets = await SecretStore.open(config.stateDir);
  const log = await JsonLog.open(`${config.stateDir}/logs/functions.jsonl`);
  const handlers = new HandlerCache();
  const jwt = new JwtVerifier(config.jwtSecret);
  const management: ManagementContext = {
    projectRef: config.projectRef,
    accessToken: config.accessToken,
    functions,
    secrets,
    onFunctionChange: (slug) => handlers.forget(slug),
  };

  async function invoke(req: Request, url: URL, slug: string, rest: string): Promise<Response> {
    const started = performance.now();
    const requestId = req.headers.get("x-request-id") ?? crypto.randomUUID();
    const fn = functions.get(slug);
    let response: Response;
    let error: string | undefined;
    try {
      if (!fn) throw new HttpError(404, "Requested function was not found", "NOT_FOUND");
      if (fn.verify_jwt) await jwt.verify(req.headers.get("authorization"));
      let handler;
      try {
        handler = await handlers.get(fn, functions.entrypoint(fn), secrets.generation);
      } catch (err) {
        error = err instanceof BootError ? err.message : String(err);
        throw new HttpError(503, "Function failed to boot (see the runtime log)", "BOOT_ERROR");
      }
      const headers = new Headers(req.headers);
      headers.set("x-request-id", requestId);
      const inner = new Request(`${url.origin}/${slug}${rest}${url.search}`, {
        method: req.method,
        headers,
        body: req.body,
      });
      try {
        response = await handler(inner);
        if (!(response instanceof Response)) throw new Error("the handler did not return a Response");
      } catch (err) {
        error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        throw new HttpError(500, "Function failed with an unhandled error (see the runtime log)", "WORKER_ERROR");
      }
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      response = err.toResponse();
    }
    log.write({
      level: response.status >= 500 ? "error" : "info",
      event: "invocation",
      function: slug,
      version: fn?.version ?? null,
      method: req.method,
      path: url.pathname,
      status: response.status,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      request_id: requestId,
      ...(error === undefined ? {} : { error }),
    });
    return response;
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const fnMatch = url.pathname.match(FUNCTION_PATH);
    try {
      if (fnMatch) return await invoke(req, url, decodeURIComponent(fnMatch[1]), fnMatch[2] ?? "");
      if (url.pathname.startsWith("/v1/")) return await handleManagement(req, url, management);
      if (url.pathname === "/_internal/health") return json(200, { status: "healthy" });
      return json(404, { message: "Not found" });
    } catch (err) {
      if (err instanceof HttpError) return err.toResponse();
      console.error(err);
      return json(500, { message: "Internal error in the local edge runtime" });
    }
  }

  const server = realServe({ hostname: "127.0.0.1", port: config.port, onListen() {} }, route);
  return {
    server,
    async close() {
      await server.shutdown();
      log.close();
    },
  };
}
