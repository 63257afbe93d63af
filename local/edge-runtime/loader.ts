/**
 * Boots function versions inside the runtime's isolate.
 *
 * Supabase runs each function in a worker isolate of its own. A worker hop costs ~80 % of the
 * throughput here (measured: bench/edge_runtime), so the local runtime imports each function
 * version as a module of its own in the router's isolate instead, and calls its handler directly.
 * What that gives up locally: functions share globals and one memory limit; secrets and env are
 * project-wide on Supabase too. A function boots by calling `Deno.serve(handler)` (or exporting
 * `default { fetch }`); while a version is loading, `Deno.serve` is captured rather than
 * opening a port.
 */
import { KeyedMutex } from "./http.ts";
import type { FunctionVersion } from "./functions.ts";

export type Handler = (req: Request, info?: unknown) => Response | Promise<Response>;

// deno-lint-ignore no-explicit-any
type AnyArgs = any[];

let capturing = false;
let captured: Handler | undefined;

function captureServe(...args: AnyArgs) {
  if (!capturing) {
    throw new Error("Deno.serve can only be called while a function boots (at module top level)");
  }
  const [a, b] = args;
  captured = typeof a === "function" ? a : typeof b === "function" ? b : a?.handler;
  const addr = { transport: "tcp", hostname: "127.0.0.1", port: 0 };
  return {
    addr,
    finished: new Promise<void>(() => {}),
    ref() {},
    unref() {},
    shutdown: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

/** The real Deno.serve, kept for the router before functions may replace it. */
export const realServe: typeof Deno.serve = Deno.serve.bind(Deno);
(Deno as unknown as { serve: unknown }).serve = captureServe;

export class BootError extends Error {}

interface Booted {
  version: number;
  generation: number;
  handler: Promise<Handler>;
}

export class HandlerCache {
  /** One booted version per slug: the one serving now. */
  #booted = new Map<string, Booted>();
  #loading = new KeyedMutex();
  #entrypoint: (fn: FunctionVersion) => string;

  constructor(entrypoint: (fn: FunctionVersion) => string) {
    this.#entrypoint = entrypoint;
  }

  /** The handler of a function version, booting it on first use for this secrets generation. */
  get(fn: FunctionVersion, generation: number): Promise<Handler> {
    const booted = this.#booted.get(fn.slug);
    if (booted && booted.version === fn.version && booted.generation === generation) {
      return booted.handler;
    }
    const entrypoint = this.#entrypoint(fn);
    const handler = this.#loading.run("boot", () => this.#boot(entrypoint, generation));
    this.#booted.set(fn.slug, { version: fn.version, generation, handler });
    return handler;
  }

  forget(slug: string): void {
    this.#booted.delete(slug);
  }

  async #boot(entrypoint: string, generation: number): Promise<Handler> {
    const url = new URL(`file://${entrypoint}`);
    url.searchParams.set("generation", String(generation));
    capturing = true;
    captured = undefined;
    try {
      const mod = await import(url.href);
      const handler = captured ??
        (typeof mod.default?.fetch === "function"
          ? mod.default.fetch.bind(mod.default)
          : undefined);
      if (!handler) {
        throw new BootError(
          "the function neither called Deno.serve nor exported default { fetch }",
        );
      }
      return handler;
    } catch (err) {
      throw err instanceof BootError ? err : new BootError(String(err));
    } finally {
      capturing = false;
      captured = undefined;
    }
  }
}
