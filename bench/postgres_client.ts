/**
 * The functions' Postgres client (postgres.js, as functions/_shared/db.ts configures it) under
 * steady load: `concurrency` loops each sending one query after another, for `warm` seconds
 * unmeasured and then `windows` windows of `seconds`, with a pool of `max` connections and
 * `pipeline` queries at most in flight on one (postgres.js's `max_pipeline`). Prints a line
 * `{"measuring": true}` as the first window starts and, as the last ends, one JSON line: the
 * queries answered per second in each window, in all, and this process's CPU a query over them
 * (every thread's: V8, the socket ops, the collector). Run by bench/postgres_client.py, which
 * reads Postgres's CPU between the two lines.
 *
 *   deno run ... postgres_client.ts <max> <pipeline> <concurrency> <windows> <seconds> <warm>
 */
import process from "node:process";
import postgres from "npm:postgres@4.2.0";

const [max, pipeline, concurrency, windows, seconds, warm] = Deno.args.map(Number);
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
const pause = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));
const loops = Array.from({ length: concurrency }, loop);
if (warm > 0) await pause(warm); // the load itself, unmeasured
console.log(JSON.stringify({ measuring: true }));
const rates: number[] = [];
const first = answered;
const cpu = process.cpuUsage();
for (let w = 0; w < windows; w++) {
  const before = answered;
  const started = performance.now();
  await pause(seconds); // the window itself
  rates.push(
    Math.round((answered - before) / ((performance.now() - started) / 1000)),
  );
}
const used = process.cpuUsage(cpu);
const queries = answered - first;
const cpuMs = (used.user + used.system) / 1000 / queries;
console.log(JSON.stringify({ max, pipeline, concurrency, rates, queries, cpuMs }));
running = false;
await Promise.all(loops);
await sql.end();
