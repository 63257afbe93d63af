/**
 * The middleware's rate limits against a real Postgres (SUPABASE_DB_URL, with the monitoring
 * app's migrations applied): shared through Postgres, exact ones taken before the request, and
 * batched ones settled between instances. Run by tests/core/functions/test_shared_middleware.py.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { db } from "./db.ts";
import { handle, json } from "./handler.ts";
import { call, collect, functionWith, settled, token, USER, userHeaders } from "./test_helpers.ts";

Deno.test("the rate limit is shared through Postgres and answers 429 with Retry-After", async () => {
  const name = `limited-${crypto.randomUUID()}`;
  const entry = await functionWith({
    name,
    rateLimit: { requests: 2, perSeconds: 60, by: "user" },
  });
  const handler = handle(entry, {}, () => json(200, {}), collect);
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await call(handler, { headers: userHeaders })).status);
  assertEquals(statuses, [200, 200, 429]);
  const limited = await call(handler, { headers: userHeaders });
  assertEquals((limited.body.error as Record<string, string>).code, "RATE_LIMITED");
  assert(Number(limited.headers.get("retry-after")) >= 1);
  const other = `Bearer ${token({ role: "authenticated", sub: crypto.randomUUID() })}`;
  assertEquals((await call(handler, { headers: { authorization: other } })).status, 200);
  await settled();
});

Deno.test("an exact limit takes each token in Postgres before the request runs", async () => {
  const name = `exact-${crypto.randomUUID()}`;
  const entry = await functionWith({
    name,
    rateLimit: { requests: 2, perSeconds: 60, by: "user", exact: true },
  });
  const handler = handle(entry, {}, () => json(200, {}), collect);
  assertEquals((await call(handler, { headers: userHeaders })).status, 200);
  const [row] = await db()`
    select tokens from monitoring.rate_limit_buckets where key = ${`${name}:user:${USER}`}`;
  assert(Number(row.tokens) < 1.01, "taken before the answer, not after"); // 2 - 1, refilled
  const statuses = [];
  for (let i = 0; i < 2; i++) statuses.push((await call(handler, { headers: userHeaders })).status);
  assertEquals(statuses, [200, 429]);
  await settled();
});

/** An instance of the rate limiter: the module loaded anew, with buckets of its own. */
type Limiter = typeof import("./ratelimit.ts");
const BATCHED = { requests: 4, perSeconds: 3600 };

/** 200 if `instance` admits a request of `key` to `fn` under BATCHED, 429 if it refuses. */
async function outcome(instance: Limiter, fn: string, key: string): Promise<number> {
  try {
    await instance.enforce(fn, key, BATCHED);
    return 200;
  } catch (err) {
    if (err instanceof instance.RateLimited) return 429;
    throw err;
  }
}

Deno.test("batched limits: two instances admit one settlement's worth past the limit, then the caller pays it back", async () => {
  // two instances of the function: the module loaded twice, each with its own buckets
  const a = await import("./ratelimit.ts?instance=a");
  const b = await import("./ratelimit.ts?instance=b");
  const key = `user:${crypto.randomUUID()}`;
  const first = [];
  for (let i = 0; i < 5; i++) first.push(await outcome(a, "twice", key));
  assertEquals(first, [200, 200, 200, 200, 429]); // one instance is exact
  await a.rateLimitsSettled();
  // the other instance has not read the bucket: it admits the caller's first request (one
  // past the limit), reads the bucket with its debit, and refuses the next
  assertEquals([await outcome(b, "twice", key), await outcome(b, "twice", key)], [200, 429]);
  await b.rateLimitsSettled();
  const [row] = await db()`
    select tokens from monitoring.rate_limit_buckets where key = ${`twice:${key}`}`;
  assert(Number(row.tokens) < 0, `overdrawn by the extra request: ${row.tokens}`);
});

Deno.test("batched limits: debits a settlement could not send go with the next, none lost", async () => {
  const instance = await import("./ratelimit.ts?instance=unsettled");
  const key = `user:${crypto.randomUUID()}`;
  const admit = () => outcome(instance, "unsettled", key);
  const bucket = () =>
    db()`select tokens from monitoring.rate_limit_buckets where key = ${`unsettled:${key}`}`;
  // the database refuses this bucket (as it would any while restarting): settlements fail
  await db()`alter table monitoring.rate_limit_buckets
    add constraint refuse_unsettled check (key not like 'unsettled:%') not valid`;
  const admitted = [];
  try {
    for (let i = 0; i < 3; i++) admitted.push(await admit());
    assertEquals((await bucket()).length, 0);
  } finally {
    await db()`alter table monitoring.rate_limit_buckets drop constraint refuse_unsettled`;
  }
  assertEquals(admitted, [200, 200, 200]); // the limit as last read: a fresh bucket is full
  let rows = await bucket();
  for (let tries = 0; rows.length === 0 && tries < 50; tries++) {
    await instance.rateLimitsSettled(); // a settlement under way may be a failing one
    rows = await bucket();
  }
  assert(Math.abs(Number(rows[0]?.tokens) - 1) < 0.01, `4 less the 3 admitted: ${rows[0]?.tokens}`);
  assertEquals([await admit(), await admit()], [200, 429]);
  await instance.rateLimitsSettled();
});
