/**
 * Log drains: JSON log lines of functions, filtered by function name and minimum level,
 * POSTed in batches (a JSON array) to HTTP endpoints.
 *
 * The drains are the function secret SUPASTACK_LOG_DRAINS (a JSON list written by supastack,
 * auth headers included, so they stay secret). Supabase's Management API has no log-drain
 * endpoint, so on Supabase the shared middleware forwards its own lines; locally the edge
 * runtime forwards its log instead (and the middleware stands aside, seeing
 * SUPASTACK_EDGE_RUNTIME=local). Both use this module.
 */

export interface DrainConfig {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** Function names to forward (empty or absent: all). */
  functions?: string[];
  minLevel?: Level;
  batchSize?: number;
  flushSeconds?: number;
}

export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3 };

interface Pending {
  config: DrainConfig;
  batch: Record<string, unknown>[];
  oldest: number;
}

export class Drains {
  #source = "";
  #drains: Pending[] = [];
  #inflight = new Set<Promise<void>>();
  #report: (message: string) => void;

  constructor(report: (message: string) => void = (m) => console.error(m)) {
    this.#report = report;
  }

  /** Re-read the configuration when the secret changed (a cheap comparison otherwise). */
  #configure(): void {
    const source = Deno.env.get("SUPASTACK_LOG_DRAINS") ?? "";
    if (source === this.#source) return;
    this.#source = source;
    try {
      const configs: DrainConfig[] = source ? JSON.parse(source) : [];
      this.#drains = configs.map((config) => ({ config, batch: [], oldest: 0 }));
    } catch {
      this.#report("log drains: SUPASTACK_LOG_DRAINS is not valid JSON; drains are off");
      this.#drains = [];
    }
  }

  get active(): boolean {
    this.#configure();
    return this.#drains.length > 0;
  }

  /** Queue the lines each drain selects; returns the sends this started (full batches). */
  offer(lines: Record<string, unknown>[]): Promise<void>[] {
    this.#configure();
    const now = Date.now();
    const sends = [];
    for (const drain of this.#drains) {
      const { functions = [], minLevel = "info", batchSize = 100 } = drain.config;
      for (const line of lines) {
        const fn = String(line.function ?? "");
        if (functions.length > 0 && !functions.includes(fn)) continue;
        if ((RANK[String(line.level)] ?? 1) < RANK[minLevel]) continue;
        if (drain.batch.length === 0) drain.oldest = now;
        drain.batch.push(line);
      }
      if (drain.batch.length >= batchSize) sends.push(this.#send(drain));
    }
    return sends;
  }

  /** Send the batches that waited `flushSeconds` (or all, with `all`); the returned promises
   * also cover sends still in flight, so awaiting them means the lines were delivered. */
  flush(all = false): Promise<void>[] {
    this.#configure();
    const now = Date.now();
    const started = this.#drains
      .filter((d) => d.batch.length > 0)
      .filter((d) => all || now - d.oldest >= (d.config.flushSeconds ?? 5) * 1000)
      .map((d) => this.#send(d));
    return [...started, ...this.#inflight];
  }

  #send(drain: Pending): Promise<void> {
    const sending = this.#post(drain).finally(() => this.#inflight.delete(sending));
    this.#inflight.add(sending);
    return sending;
  }

  async #post(drain: Pending): Promise<void> {
    const batch = drain.batch;
    drain.batch = [];
    try {
      const res = await fetch(drain.config.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...drain.config.headers },
        body: JSON.stringify(batch),
      });
      await res.body?.cancel();
      if (!res.ok) this.#report(`log drain ${drain.config.name}: HTTP ${res.status}`);
    } catch (err) {
      this.#report(`log drain ${drain.config.name}: ${err instanceof Error ? err.message : err}`);
    }
  }
}
