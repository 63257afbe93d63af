/**
 * A value read from the database and shared for a while: every caller within `ttlMs` of a
 * read gets it, concurrent callers share one read, and a failed read is logged and answered
 * by `fallback` (cached too, so a database that went away is not asked on every request).
 */
import { log } from "./invocations.ts";

export function cachedRead<T>(
  name: string,
  read: () => Promise<T>,
  ttlMs: number,
  fallback: () => T,
): () => Promise<T> {
  let cached: { value: T; until: number } | undefined;
  let reading: Promise<T> | undefined;
  return async () => {
    if (cached && performance.now() < cached.until) return cached.value;
    reading ??= read()
      .catch((err) => {
        log("error", { event: `${name}_unreadable`, error: String(err) });
        return fallback();
      })
      .then((value) => {
        cached = { value, until: performance.now() + ttlMs };
        return value;
      })
      .finally(() => reading = undefined);
    return await reading;
  };
}
