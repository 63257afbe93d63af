/**
 * The functions' Postgres client (postgres.js, as functions/_shared/db.ts configures it) under
 * steady load: `concurrency` loops each sending one query after another for `windows` windows
 * of `seconds`, with a pool of `max` connections and `pipeline` queries at most in flight on
 * one (postgres.js's `max_pipeline`). Prints one JSON line: the queries answered per second in
 * each window. Run by bench/postgres_client.py.
 *
 *   deno run ... postgres_client.ts <max> <pipeline> <concurrency> <windows> <seconds>
 */
import postgres from "npm:postgres@4.2.0";

const [max, pipeline, concurrency, windows, seconds] = Deno.args.map(Number);
const sql = postgres(Deno.env.get("SUPABASE_DB_URL")!, {
  max,
  max_pipeline: pipeline,
  idle_timeout: 30,
  prepare: true,
  onnotice: () => {},
});
let answered = 0;
let running = true;
async function loop(): Promise<void> {
  while (running) {
    await sql`select ${answered}::int as n`;
    answered++;
  }
}
const loops = Array.from({ length: concurrency }, loop);
const rates: number[] = [];
for (let w = 0; w < windows; w++) {
  const before = answered;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000)); // the window itself
  rates.push(
    Math.round((answered - before) / ((performance.now() - started) / 1000)),
  );
}
running = false;
await Promise.all(loops);
await sql.end();
console.log(JSON.stringify({ max, pipeline, concurrency, rates }));
