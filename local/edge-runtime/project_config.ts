/**
 * Project settings the Management API serves besides functions and secrets, with the fields,
 * limits and answer shapes Supabase documents:
 *
 * - the Data API's (PostgREST) config: `/postgrest`;
 * - the connection pooler (Supavisor): `/config/database/pooler`;
 * - SSL enforcement: `/ssl-enforcement`;
 * - network restrictions: `/network-restrictions`, `/network-restrictions/apply`;
 * - Realtime's limits: `/config/realtime` (PATCH answers 204, fields unknown to it are a 400).
 *
 * The local target has no PostgREST, pooler, Realtime, TLS or network edge, so the values are only stored
 * (a file each in the state directory), which is what lets the supabase code path be tested
 * against a real server. Network restrictions apply at once here (Supabase applies them
 * asynchronously: `status` goes from `stored` to `applied`).
 */
import { HttpError, KeyedMutex, writeAtomic } from "./http.ts";

type Check<T> = (patch: Record<string, unknown>) => Partial<T>;

/** One settings document: its defaults, its validation, its file. */
class Document<T extends object> {
  #path: string;
  #value: T;

  private constructor(path: string, value: T) {
    this.#path = path;
    this.#value = value;
  }

  static async open<T extends object>(path: string, defaults: T): Promise<Document<T>> {
    try {
      return new Document(path, { ...defaults, ...JSON.parse(await Deno.readTextFile(path)) });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      return new Document(path, { ...defaults });
    }
  }

  get(): T {
    return structuredClone(this.#value);
  }

  async set(changes: Partial<T>): Promise<T> {
    this.#value = { ...this.#value, ...changes };
    await writeAtomic(this.#path, JSON.stringify(this.#value));
    return this.get();
  }
}

function object(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, `${what}: expected an object`);
  }
  return body as Record<string, unknown>;
}

function integer(value: unknown, what: string, max: number): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > max) {
    throw new HttpError(400, `${what} must be an integer 0-${max}`);
  }
  return value as number;
}

function fields<T>(what: string, rules: Record<string, (v: unknown) => unknown>): Check<T> {
  return (patch) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(patch)) {
      const rule = rules[key];
      if (!rule) throw new HttpError(400, `${what}: unknown field '${key}'`);
      out[key] = rule(value);
    }
    return out as Partial<T>;
  };
}

export interface PostgrestConfig {
  db_schema: string;
  max_rows: number;
  db_extra_search_path: string;
  db_pool: number | null;
}

const text = (what: string) => (v: unknown) => {
  if (typeof v !== "string") throw new HttpError(400, `${what} must be a string`);
  return v;
};

const checkPostgrest = fields<PostgrestConfig>("PostgREST config", {
  db_schema: text("PostgREST config: db_schema"),
  db_extra_search_path: text("PostgREST config: db_extra_search_path"),
  max_rows: (v) => integer(v, "PostgREST config: max_rows", 1_000_000),
  db_pool: (v) => integer(v, "PostgREST config: db_pool", 1000),
});

export interface PoolerConfig {
  pool_mode: "transaction" | "session";
  default_pool_size: number | null;
  max_client_conn: number | null;
}

const checkPooler = fields<PoolerConfig>("Pooler config", {
  pool_mode: (v) => {
    if (v !== "transaction" && v !== "session") {
      throw new HttpError(400, "Pooler config: pool_mode must be transaction or session");
    }
    return v;
  },
  default_pool_size: (v) =>
    v === null ? null : integer(v, "Pooler config: default_pool_size", 3000),
});

/** Realtime's limits; every field is nullable in Supabase's answer (null: its default). */
export interface RealtimeConfig {
  max_concurrent_users: number | null;
  max_events_per_second: number | null;
  max_bytes_per_second: number | null;
  max_channels_per_client: number | null;
  max_joins_per_second: number | null;
  max_presence_events_per_second: number | null;
  max_payload_size_in_kb: number | null;
  connection_pool: number | null;
  private_only: boolean | null;
  suspend: boolean | null;
  presence_enabled: boolean | null;
}

const bounded = (key: string, min: number, max: number) => (v: unknown) => {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    throw new HttpError(400, `Realtime config: ${key} must be an integer ${min}-${max}`);
  }
  return v;
};
const flag = (key: string) => (v: unknown) => {
  if (typeof v !== "boolean") throw new HttpError(400, `Realtime config: ${key} must be a boolean`);
  return v;
};

const checkRealtime = fields<RealtimeConfig>("Realtime config", {
  max_concurrent_users: bounded("max_concurrent_users", 1, 50_000),
  max_events_per_second: bounded("max_events_per_second", 1, 50_000),
  max_bytes_per_second: bounded("max_bytes_per_second", 1, 10_000_000),
  max_channels_per_client: bounded("max_channels_per_client", 1, 10_000),
  max_joins_per_second: bounded("max_joins_per_second", 1, 5_000),
  max_presence_events_per_second: bounded("max_presence_events_per_second", 1, 5_000),
  max_payload_size_in_kb: bounded("max_payload_size_in_kb", 1, 10_000),
  connection_pool: bounded("connection_pool", 1, 100),
  private_only: flag("private_only"),
  suspend: flag("suspend"),
  presence_enabled: flag("presence_enabled"),
});

interface Cidrs {
  dbAllowedCidrs: string[];
  dbAllowedCidrsV6: string[];
}

interface NetworkRestrictions {
  config: Cidrs;
  old_config: Cidrs | null;
  updated_at: string;
  applied_at: string;
}

const OPEN: Cidrs = { dbAllowedCidrs: ["0.0.0.0/0"], dbAllowedCidrsV6: ["::/0"] };
const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const V6 = /^[0-9a-f:]+\/(\d{1,3})$/i;

function cidrs(value: unknown, key: string, pattern: RegExp, maxPrefix: number): string[] {
  if (!Array.isArray(value) || value.some((c) => typeof c !== "string")) {
    throw new HttpError(400, `Network restrictions: ${key} must be an array of CIDRs`);
  }
  for (const cidr of value as string[]) {
    const match = cidr.match(pattern);
    const prefix = match ? Number(match.at(-1)) : -1;
    const octets = pattern === V4 && match ? match.slice(1, 5).map(Number) : [];
    if (!match || prefix > maxPrefix || octets.some((o) => o > 255)) {
      throw new HttpError(400, `Network restrictions: '${cidr}' is not a valid CIDR`);
    }
  }
  return value as string[];
}

export class ProjectConfigStore {
  #postgrest: Document<PostgrestConfig>;
  #pooler: Document<PoolerConfig>;
  #ssl: Document<{ database: boolean }>;
  #network: Document<NetworkRestrictions>;
  #realtime: Document<RealtimeConfig>;
  #mutex = new KeyedMutex();

  private constructor(
    postgrest: Document<PostgrestConfig>,
    pooler: Document<PoolerConfig>,
    ssl: Document<{ database: boolean }>,
    network: Document<NetworkRestrictions>,
    realtime: Document<RealtimeConfig>,
  ) {
    this.#postgrest = postgrest;
    this.#pooler = pooler;
    this.#ssl = ssl;
    this.#network = network;
    this.#realtime = realtime;
  }

  /** A new Supabase project's settings, or those stored in ``stateDir``. */
  static async open(stateDir: string): Promise<ProjectConfigStore> {
    const created = new Date(0).toISOString();
    return new ProjectConfigStore(
      await Document.open(`${stateDir}/postgrest.json`, {
        db_schema: "public,graphql_public",
        max_rows: 1000,
        db_extra_search_path: "public,extensions",
        db_pool: null,
      }),
      await Document.open(`${stateDir}/pooler.json`, {
        pool_mode: "transaction" as const,
        default_pool_size: null,
        max_client_conn: 200,
      }),
      await Document.open(`${stateDir}/ssl-enforcement.json`, { database: false }),
      await Document.open(`${stateDir}/network-restrictions.json`, {
        config: OPEN,
        old_config: null,
        updated_at: created,
        applied_at: created,
      }),
      await Document.open(`${stateDir}/realtime.json`, {
        max_concurrent_users: null,
        max_events_per_second: null,
        max_bytes_per_second: null,
        max_channels_per_client: null,
        max_joins_per_second: null,
        max_presence_events_per_second: null,
        max_payload_size_in_kb: null,
        connection_pool: null,
        private_only: null,
        suspend: null,
        presence_enabled: null,
      }),
    );
  }

  realtime(): RealtimeConfig {
    return this.#realtime.get();
  }

  async updateRealtime(patch: unknown): Promise<void> {
    const changes = checkRealtime(object(patch, "Realtime config"));
    await this.#mutex.run("realtime", () => this.#realtime.set(changes));
  }

  postgrest(): PostgrestConfig {
    return this.#postgrest.get();
  }

  updatePostgrest(patch: unknown): Promise<PostgrestConfig> {
    const changes = checkPostgrest(object(patch, "PostgREST config"));
    return this.#mutex.run("postgrest", () => this.#postgrest.set(changes));
  }

  /** GET config/database/pooler: one entry, the primary database. */
  pooler(projectRef: string): Record<string, unknown>[] {
    const host = `db.${projectRef}.local`;
    const connection = `postgresql://postgres.${projectRef}@${host}:6543/postgres`;
    return [{
      identifier: projectRef,
      database_type: "PRIMARY",
      is_using_scram_auth: true,
      db_user: "postgres",
      db_host: host,
      db_port: 6543,
      db_name: "postgres",
      connection_string: connection,
      connectionString: connection,
      ...this.#pooler.get(),
    }];
  }

  async updatePooler(
    patch: unknown,
  ): Promise<Pick<PoolerConfig, "default_pool_size" | "pool_mode">> {
    const changes = checkPooler(object(patch, "Pooler config"));
    const now = await this.#mutex.run("pooler", () => this.#pooler.set(changes));
    return { default_pool_size: now.default_pool_size, pool_mode: now.pool_mode };
  }

  ssl(): { currentConfig: { database: boolean }; appliedSuccessfully: boolean } {
    return { currentConfig: this.#ssl.get(), appliedSuccessfully: true };
  }

  async updateSsl(body: unknown): Promise<ReturnType<ProjectConfigStore["ssl"]>> {
    const requested = object(object(body, "SSL enforcement").requestedConfig, "requestedConfig");
    if (typeof requested.database !== "boolean") {
      throw new HttpError(400, "SSL enforcement: requestedConfig.database must be a boolean");
    }
    const database = requested.database;
    await this.#mutex.run("ssl", () => this.#ssl.set({ database }));
    return this.ssl();
  }

  network(): Record<string, unknown> {
    return { entitlement: "allowed", status: "applied", ...this.#network.get() };
  }

  async applyNetwork(body: unknown): Promise<Record<string, unknown>> {
    const given = object(body, "Network restrictions");
    for (const key of Object.keys(given)) {
      if (key !== "dbAllowedCidrs" && key !== "dbAllowedCidrsV6") {
        throw new HttpError(400, `Network restrictions: unknown field '${key}'`);
      }
    }
    const config: Cidrs = {
      dbAllowedCidrs: cidrs(given.dbAllowedCidrs ?? [], "dbAllowedCidrs", V4, 32),
      dbAllowedCidrsV6: cidrs(given.dbAllowedCidrsV6 ?? [], "dbAllowedCidrsV6", V6, 128),
    };
    const now = new Date().toISOString();
    await this.#mutex.run("network", async () => {
      const before = this.#network.get();
      await this.#network.set({
        config,
        old_config: before.config,
        updated_at: now,
        applied_at: now,
      });
    });
    return this.network();
  }
}
