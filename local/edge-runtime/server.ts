/**
 * The local edge runtime: Supabase's function gateway and the Management API subset on one port.
 *
 *   /functions/v1/<slug>[/...]  invoke the newest version (credentials checked when verify_jwt,
 *                               never on a CORS preflight: browsers send those without them)
 *   /auth/v1/.well-known/jwks.json  the public keys users' JWTs are signed with
 *   /v1/projects/{ref}/...      Management API subset (see management.ts)
 *   /_internal/health           liveness, for `supastack local up` and status
 */
import type { RuntimeConfig } from "./config.ts";
import { FunctionStore } from "./functions.ts";
import { HttpError, json } from "./http.ts";
import { JwtVerifier } from "./jwt.ts";
import { Drains } from "../../functions/_shared/drains.ts";
import { BootError, HandlerCache, realServe } from "./loader.ts";
import { JsonLog } from "./log.ts";
import { handleManagement, type ManagementContext } from "./management.ts";
import { ProjectConfigStore } from "./project_config.ts";
import { SecretStore } from "./secrets.ts";

const FUNCTION_PREFIX = "/functions/v1/";
/** Supabase's request idle timeout: no response started within it, the gateway answers 504. */
const REQUEST_IDLE_TIMEOUT_MS = 150_000;

/**
 * The gateway's request idle timeout: a response not started within `ms` is a 504 (the handler
 * runs on). One timer sweeps every waiting request, at a tenth of the timeout (at most a
 * second, so a 504 comes within a second of it): a timer set and cleared per request, with a
 * Promise.race, was half of the gateway's cost per request (bench/edge_runtime.py: 68-70k
 * requests/s with it, 96k without).
 */
class IdleDeadlines {
  #waiting = new Set<{ deadline: number; fail: (err: HttpError) => void }>();
  #sweeper: ReturnType<typeof setInterval>;

  constructor(readonly ms: number) {
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(1000, Math.max(10, ms / 10)));
  }

  /** The handler's response, or a 504 HttpError once its deadline has passed. */
  within(response: Promise<Response>): Promise<Response> {
    return new Promise((resolve, reject) => {
      const entry = { deadline: performance.now() + this.ms, fail: reject };
      this.#waiting.add(entry);
      response.then(
        (answer) => {
          this.#waiting.delete(entry);
          resolve(answer);
        },
        (err) => {
          this.#waiting.delete(entry);
          reject(err);
        },
      );
    });
  }

  #sweep(): void {
    const now = performance.now();
    for (const entry of this.#waiting) {
      if (entry.deadline > now) continue;
      this.#waiting.delete(entry);
      entry.fail(new HttpError(504, "Request idle timeout", "REQUEST_IDLE_TIMEOUT"));
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}

/** Methods no function is given: TRACE and TRACK echo a request (cross-site tracing),
 * CONNECT opens a tunnel. Answered 405, as a gateway does, before any function runs. */
const UNSERVED_METHODS = new Set(["TRACE", "TRACK", "CONNECT"]);

/** origin, path and query of a request URL, split without a URL object (hot path). */
function splitUrl(href: string): { origin: string; path: string; search: string } {
  const pathStart = href.indexOf("/", href.indexOf("//") + 2);
  const queryStart = href.indexOf("?", pathStart);
  return {
    origin: href.slice(0, pathStart),
    path: queryStart < 0 ? href.slice(pathStart) : href.slice(pathStart, queryStart),
    search: queryStart < 0 ? "" : href.slice(queryStart),
  };
}

/** `object`'s property for a Proxy over it, a method bound to it (its internal slots are the
 * object's, not the Proxy's). */
function forwarded(object: object, property: string | symbol): unknown {
  const value = Reflect.get(object, property, object);
  return typeof value === "function" ? value.bind(object) : value;
}

/**
 * The request's headers with `x-real-ip` the connection's peer, as Supabase's gateway gives
 * it (a client's own X-Real-IP is overwritten: the limits of anonymous callers count this,
 * never a header the caller writes, such as X-Forwarded-For). `get` and `has`, what functions
 * call, answer from the request's own headers; anything else (iterating them, passing them
 * on, changing them) works on a copy with the peer set, made on first use, which then answers
 * everything. Copying on every request was 3 µs of it (`new Headers` validates each header).
 */
function withPeer(headers: Headers, peer: string): Headers {
  let copy: Headers | undefined;
  const complete = (): Headers => {
    if (!copy) {
      copy = new Headers(headers);
      copy.set("x-real-ip", peer);
    }
    return copy;
  };
  const get = (name: string) =>
    copy ? copy.get(name) : name.toLowerCase() === "x-real-ip" ? peer : headers.get(name);
  const has = (name: string) =>
    copy ? copy.has(name) : name.toLowerCase() === "x-real-ip" || headers.has(name);
  return new Proxy(headers, {
    get(_, property) {
      if (property === "get") return get;
      if (property === "has") return has;
      return forwarded(complete(), property);
    },
  });
}

/**
 * The request as the function sees it on Supabase: the URL without the `/functions/v1` prefix,
 * and the peer's address in `x-real-ip` (`withPeer`). A Proxy that overrides only `url` and
 * `headers` keeps most of the throughput; building a new Request per invocation halved it
 * (bench/edge_runtime).
 */
function atFunctionPath(req: Request, url: string, peer: Deno.NetAddr): Request {
  let headers: Headers | undefined;
  return new Proxy(req, {
    get(target, property) {
      if (property === "url") return url;
      if (property === "headers") return headers ??= withPeer(target.headers, peer.hostname);
      return forwarded(target, property);
    },
  });
}

/** A slug from the path; one that does not decode names no function (404, not a crash). */
function decodeSlug(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(404, "Requested function was not found", "NOT_FOUND");
  }
}

export interface Runtime {
  server: Deno.HttpServer;
  close(): Promise<void>;
}

export async function startRuntime(config: RuntimeConfig): Promise<Runtime> {
  for (const [name, value] of Object.entries(config.functionEnv)) Deno.env.set(name, value);
  await Deno.mkdir(`${config.stateDir}/logs`, { recursive: true });
  const functions = await FunctionStore.open(config.stateDir);
  const secrets = await SecretStore.open(config.stateDir);
  const projectConfig = await ProjectConfigStore.open(config.stateDir);
  const log = await JsonLog.open(`${config.stateDir}/logs/functions.jsonl`);
  // Log drains (the SUPASTACK_LOG_DRAINS secret): the runtime forwards its own log lines.
  const drains = new Drains((message) =>
    console.error(JSON.stringify({ event: "drain-error", message }))
  );
  log.drainTo(
    (lines) => drains.offer(lines.map((line) => JSON.parse(line))),
    () => drains.active,
    () => secrets.generation,
  );
  const drainTimer = setInterval(() => drains.flush(), 1000);
  const handlers = new HandlerCache((fn) => functions.entrypoint(fn));
  const apiKeys = ["SUPABASE_PUBLISHABLE_KEYS", "SUPABASE_SECRET_KEYS"].flatMap((name) =>
    Object.values(JSON.parse(config.functionEnv[name] ?? "{}")) as string[]
  );
  const jwt = new JwtVerifier(config.jwtSecret, config.jwks, apiKeys);
  const deadlines = new IdleDeadlines(config.requestIdleTimeoutMs ?? REQUEST_IDLE_TIMEOUT_MS);
  // Request ids: unique per runtime boot, cheap (a UUID per request costs throughput).
  const bootId = crypto.randomUUID().slice(0, 8);
  let invocations = 0;
  const management: ManagementContext = {
    projectRef: config.projectRef,
    accessToken: config.accessToken,
    functions,
    secrets,
    projectConfig,
    onFunctionChange: (slug) => handlers.forget(slug),
  };

  async function invoke(
    req: Request,
    url: ReturnType<typeof splitUrl>,
    slug: string,
    rest: string,
    peer: Deno.NetAddr,
  ): Promise<Response> {
    const started = performance.now();
    const requestId = `${bootId}-${(++invocations).toString(36)}`;
    const fn = functions.get(slug);
    let response: Response;
    let error: string | undefined;
    try {
      if (!fn) throw new HttpError(404, "Requested function was not found", "NOT_FOUND");
      // Supabase's gateway lets a CORS preflight through: the function's CORS answers it
      if (fn.verify_jwt && req.method !== "OPTIONS") {
        await jwt.verify(req.headers.get("authorization"), req.headers.get("apikey"));
      }
      let handler;
      try {
        handler = await handlers.get(fn, secrets.generation);
      } catch (err) {
        error = err instanceof BootError ? err.message : String(err);
        throw new HttpError(503, "Function failed to boot (see the runtime log)", "BOOT_ERROR");
      }
      try {
        const answer = handler(
          atFunctionPath(req, `${url.origin}/${slug}${rest}${url.search}`, peer),
        );
        // an answer given at once has started within any timeout
        response = answer instanceof Response
          ? answer
          : await deadlines.within(Promise.resolve(answer));
        if (!(response instanceof Response)) {
          throw new Error("the handler did not return a Response");
        }
      } catch (err) {
        if (err instanceof HttpError) throw err;
        error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        throw new HttpError(
          500,
          "Function failed with an unhandled error (see the runtime log)",
          "WORKER_ERROR",
        );
      }
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      response = err.toResponse();
    }
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    log.write(
      `"level":"${response.status >= 500 ? "error" : "info"}","event":"invocation",` +
        `"function":${JSON.stringify(slug)},"version":${fn?.version ?? null},` +
        `"method":${JSON.stringify(req.method)},"path":${JSON.stringify(url.path)},` +
        `"status":${response.status},"duration_ms":${durationMs},"request_id":"${requestId}"` +
        (error === undefined ? "" : `,"error":${JSON.stringify(error)}`),
    );
    return response;
  }

  async function route(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    const url = splitUrl(req.url);
    if (UNSERVED_METHODS.has(req.method)) {
      return json(405, { code: "METHOD_NOT_ALLOWED", message: `${req.method} is not served` });
    }
    try {
      if (url.path.startsWith(FUNCTION_PREFIX)) {
        const end = url.path.indexOf("/", FUNCTION_PREFIX.length);
        const slug = url.path.slice(FUNCTION_PREFIX.length, end < 0 ? undefined : end);
        const rest = end < 0 ? "" : url.path.slice(end);
        return await invoke(req, url, decodeSlug(slug), rest, info.remoteAddr as Deno.NetAddr);
      }
      if (url.path.startsWith("/v1/")) {
        return await handleManagement(req, new URL(req.url), management);
      }
      if (url.path === "/_internal/health") return json(200, { status: "healthy" });
      if (url.path === "/auth/v1/.well-known/jwks.json") return json(200, config.jwks);
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
      deadlines.close();
      clearInterval(drainTimer);
      log.close();
      await Promise.all(drains.flush(true));
    },
  };
}
