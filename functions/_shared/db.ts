/**
 * Connection pools per function, to SUPABASE_DB_URL (provided on both targets).
 *
 * `db()` is the function's own work: its commits are durable. `telemetry()` carries what the
 * middleware writes on every request (rate-limit buckets, invocation rows) with
 * `synchronous_commit = off`: those commits do not wait for the disk, so a request costs one
 * durable commit, not three; a crash can lose the last fraction of a second of them, never a
 * booking.
 */
import postgres from "npm:postgres@3.4.9";

let pool: postgres.Sql | undefined;
let telemetryPool: postgres.Sql | undefined;

function connect(max: number, connection: Record<string, string> = {}): postgres.Sql {
  const url = Deno.env.get("SUPABASE_DB_URL");
  if (!url) throw new Error("SUPABASE_DB_URL is not set");
  return postgres(url, { max, idle_timeout: 30, prepare: false, onnotice: () => {}, connection });
}

export function db(): postgres.Sql {
  pool ??= connect(8);
  return pool;
}

export function telemetry(): postgres.Sql {
  telemetryPool ??= connect(4, { synchronous_commit: "off" });
  return telemetryPool;
}
