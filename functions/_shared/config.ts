/**
 * A function's deployed configuration: `function.config.json` next to its entrypoint, written
 * by supastack's packaging from the app manifest (so a change redeploys the function). A
 * function run without one (in a unit test) gets the defaults.
 */
import type { RateLimit } from "./ratelimit.ts";

export interface FunctionConfig {
  name: string;
  verifyJwt: boolean;
  rateLimit?: RateLimit & { by: "user" | "ip" };
  env: Record<string, string>;
  /** The largest request body the function reads (the manifest's `maxBodyBytes`). */
  maxBodyBytes: number;
}

/** What a function without a `maxBodyBytes` accepts: plenty for JSON APIs. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export async function loadConfig(entrypointUrl: string): Promise<FunctionConfig> {
  const url = new URL("./function.config.json", entrypointUrl);
  const fallback = url.pathname.split("/").at(-2) ?? "function";
  try {
    const read = JSON.parse(await Deno.readTextFile(url));
    return { ...defaults(fallback), ...read };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return defaults(fallback);
  }
}

function defaults(name: string): FunctionConfig {
  return { name, verifyJwt: true, env: {}, maxBodyBytes: DEFAULT_MAX_BODY_BYTES };
}
