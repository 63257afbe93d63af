/**
 * The metric queries' cache (the guide's Upstash Redis), over the Redis protocol at REDIS_URL
 * (Upstash serves it too). Optional: without REDIS_URL, while the connection is being made, or
 * while Redis cannot be reached (a new attempt every 30 s), every query goes to Postgres and the
 * answer says so (`x-cache: off`); a cache failure never fails or delays a request. Keys hold
 * the organization's id, so no organization reads another's entry.
 */
import { createClient } from "npm:@redis/client@5.10.0";
import { log } from "../../_shared/mod.ts";

/** What this module asks of the client. */
interface Client {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { EX: number }): Promise<unknown>;
}

/** After Redis was lost (or could not be reached), how long before a new attempt. */
const RETRY_AFTER_MS = 30_000;

let ready: Client | undefined;
let connecting = false;
let lostAt = -Infinity;

function lost(): void {
  ready = undefined;
  lostAt = Date.now();
}

/** Connect in the background: no request ever waits for Redis to answer a connection. */
async function connect(url: string): Promise<void> {
  connecting = true;
  let connected = false;
  const redis = createClient({
    url,
    socket: {
      connectTimeout: 1_000,
      // once connected, a few quick retries; a first connection that fails is not retried
      reconnectStrategy: (tries) =>
        !connected || tries > 3 ? new Error("Redis is not reachable") : 100 * tries,
    },
    // a command sent while disconnected fails at once rather than waiting in a queue
    disableOfflineQueue: true,
  });
  redis.on("error", (err) => log("error", { event: "cache_error", error: String(err) }));
  redis.on("end", lost);
  try {
    await redis.connect();
    connected = true;
    ready = redis as unknown as Client;
  } catch (err) {
    log("error", { event: "cache_unavailable", error: String(err) });
    lost();
  } finally {
    connecting = false;
  }
}

function client(): Client | undefined {
  const url = Deno.env.get("REDIS_URL");
  if (url && !ready && !connecting && Date.now() - lostAt >= RETRY_AFTER_MS) {
    void connect(url);
  }
  return ready;
}

export type CacheState = "hit" | "miss" | "off";

/**
 * Whether `cached` would try Redis now. When it would not, a caller may read in one statement
 * what it would otherwise read in two (the key's parts, then the value on a miss).
 */
export function cacheOn(): boolean {
  return client() !== undefined;
}

/**
 * The cached text of `key`, or `load()`'s, stored for `ttlSeconds`. Text (JSON, say) in and
 * out: what is cached is passed through as it is, never decoded and encoded again.
 */
export async function cached(
  key: string,
  ttlSeconds: number,
  load: () => Promise<string>,
): Promise<{ value: string; cache: CacheState }> {
  const redis = client();
  if (redis) {
    try {
      const hit = await redis.get(key);
      if (hit !== null) return { value: hit, cache: "hit" };
    } catch (err) {
      log("error", { event: "cache_read_failed", error: String(err) });
      return { value: await load(), cache: "off" };
    }
  }
  const value = await load();
  if (!redis) return { value, cache: "off" };
  try {
    await redis.set(key, value, { EX: ttlSeconds });
  } catch (err) {
    log("error", { event: "cache_write_failed", error: String(err) });
  }
  return { value, cache: "miss" };
}
