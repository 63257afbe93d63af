/**
 * The metric queries' cache (the guide's Upstash Redis), over the Redis protocol at REDIS_URL
 * (Upstash serves it too). Optional: without REDIS_URL, or while Redis cannot be reached, every
 * query goes to Postgres and the answer says so (`x-cache: off`); a cache failure never fails
 * a request. Keys hold the organization's id, so no organization reads another's entry.
 */
import { createClient } from "npm:@redis/client@5.10.0";
import { log } from "../../_shared/mod.ts";

/** What this module asks of the client. */
interface Client {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { EX: number }): Promise<unknown>;
}

let connecting: Promise<Client | undefined> | undefined;

function client(): Promise<Client | undefined> {
  const url = Deno.env.get("REDIS_URL");
  if (!url) return Promise.resolve(undefined);
  connecting ??= (async (): Promise<Client | undefined> => {
    const redis = createClient({
      url,
      socket: { connectTimeout: 2000, reconnectStrategy: (tries) => Math.min(tries * 200, 5000) },
      // a command sent while disconnected fails at once rather than waiting in a queue
      disableOfflineQueue: true,
    });
    redis.on("error", (err) => log("error", { event: "cache_error", error: String(err) }));
    try {
      await redis.connect();
      return redis as unknown as Client;
    } catch (err) {
      log("error", { event: "cache_unavailable", error: String(err) });
      connecting = undefined;
      return undefined;
    }
  })();
  return connecting;
}

export type CacheState = "hit" | "miss" | "off";

/** The cached value of `key`, or `load()`'s, stored for `ttlSeconds`. */
export async function cached<T>(
  key: string,
  ttlSeconds: number,
  load: () => Promise<T>,
): Promise<{ value: T; cache: CacheState }> {
  const redis = await client();
  if (redis) {
    try {
      const hit = await redis.get(key);
      if (hit !== null) return { value: JSON.parse(hit) as T, cache: "hit" };
    } catch (err) {
      log("error", { event: "cache_read_failed", error: String(err) });
      return { value: await load(), cache: "off" };
    }
  }
  const value = await load();
  if (!redis) return { value, cache: "off" };
  try {
    await redis.set(key, JSON.stringify(value), { EX: ttlSeconds });
  } catch (err) {
    log("error", { event: "cache_write_failed", error: String(err) });
  }
  return { value, cache: "miss" };
}
