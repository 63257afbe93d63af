/**
 * A function path's floor: the least a function answering with one statement can do on this
 * runtime. `Deno.serve`, the caller's `sub` read from the bearer token's payload WITHOUT
 * verifying its signature, the statement through the functions' own client (`db()` of
 * functions/_shared/db.ts: the same pool, prepared statements and pipelining), its first row as
 * JSON. No gateway, no middleware, no guard, no invocation record, no rate limit: nothing of
 * what keeps a function safe, so no function can be cheaper. Run by bench/floor.py next to a
 * function path and its SQL path; prints one JSON line once it listens.
 *
 *   deno run ... floor.ts <port> <statement, $1 the caller's sub>
 */
import { db } from "../functions/_shared/db.ts";

const port = Number(Deno.args[0]);
const statement = Deno.args[1];

function subject(req: Request): string {
  const payload = req.headers.get("authorization")?.split(".")[1] ?? "";
  return JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/"))).sub;
}

Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: () => console.log(JSON.stringify({ listening: port })),
}, async (req) => {
  const rows = await db().unsafe(statement, [subject(req)], { prepare: true });
  return new Response(JSON.stringify(rows[0] ?? null), {
    headers: { "content-type": "application/json" },
  });
});
