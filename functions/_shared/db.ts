/**
 * Connection pools per function, to SUPABASE_DB_URL (provided on both targets).
 *
 * `db()` is the function's own work: its commits are durable. `telemetry()` carries what the
 * middleware writes on every request (rate-limit buckets, invocation rows) with
 * `synchronous_commit = off`: those commits do not wait for the disk, so a request costs one
 * durable commit, not three; a crash can lose the last fraction of a second of them, never a
 * booking.
 *
 * Statements are prepared once per connection (named), so a query is one round trip (Bind,
 * Execute) and Postgres neither parses nor plans it again; unprepared, postgres.js sends a
 * query with parameters in two round trips (Parse and Describe first, for the parameters'
 * types). A statement whose cached plan a migration invalidated is prepared again and the query
 * retried by postgres.js. Through a transaction-mode pooler (Supavisor's port 6543, or a URL
 * with `pgbouncer=true`), where a connection's prepared statements do not follow the session,
 * nothing is prepared.
 */
import postgres from "npm:postgres@4.2.0";

/** A piece of a query (`db()\`...\``) to compose into another. */
export type Fragment = postgres.Fragment;

let pool: postgres.Sql | undefined;
let telemetryPool: postgres.Sql | undefined;

/** Whether the URL goes through a transaction-mode pooler (no prepared statements there). */
export function transactionPooled(url: string): boolean {
  const parsed = URL.parse(url);
  return parsed?.port === "6543" || parsed?.searchParams.get("pgbouncer") === "true";
}

function connect(max: number, connection: Record<string, string> = {}): postgres.Sql {
  const url = Deno.env.get("SUPABASE_DB_URL");
  if (!url) throw new Error("SUPABASE_DB_URL is not set");
  const prepare = !transactionPooled(url);
  // Queries are pipelined (postgres.js's default, up to 100 in flight on a connection): a
  // connection's queries go out and come back in one write and one read. postgres.js 3.4 had
  // to be held to one query at a time (its busy list was scanned through an array that grew
  // by a slot per query: 41-45k queries a second fell to 13k within 12 s); 4.x's pool holds
  // 83-117k pipelined, steady, against 27-51k one at a time (bench/postgres_client.py).
  return postgres(url, { max, idle_timeout: 30, prepare, onnotice: () => {}, connection });
}

export function db(): postgres.Sql {
  pool ??= connect(8);
  return pool;
}

export function telemetry(): postgres.Sql {
  telemetryPool ??= connect(4, { synchronous_commit: "off" });
  return telemetryPool;
}
