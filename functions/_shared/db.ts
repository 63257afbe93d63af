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
import postgres from "npm:postgres@3.4.9";

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
  // max_pipeline 1: one query at a time per connection, the others wait in the pool's queue.
  // Pipelined, postgres.js 3.4 finds a connection in its busy list by scanning an array that
  // grows by one slot per query while the list is never empty: under steady load an instance
  // slowed from 41-45k to 13k queries a second within 12 s (bench/postgres_client.py).
  const options = {
    max,
    max_pipeline: 1,
    idle_timeout: 30,
    prepare,
    onnotice: () => {},
    connection,
  };
  // max_pipeline is one of its options (read with the others) but not in its types
  return postgres(url, options as postgres.Options<Record<string, never>>);
}

export function db(): postgres.Sql {
  pool ??= connect(8);
  return pool;
}

export function telemetry(): postgres.Sql {
  telemetryPool ??= connect(4, { synchronous_commit: "off" });
  return telemetryPool;
}
