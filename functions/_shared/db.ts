/** One small connection pool per function, to SUPABASE_DB_URL (provided on both targets). */
import postgres from "npm:postgres@3.4.9";

let pool: postgres.Sql | undefined;

export function db(): postgres.Sql {
  const url = Deno.env.get("SUPABASE_DB_URL");
  if (!url) throw new Error("SUPABASE_DB_URL is not set");
  pool ??= postgres(url, { max: 4, idle_timeout: 30, prepare: false, onnotice: () => {} });
  return pool;
}
