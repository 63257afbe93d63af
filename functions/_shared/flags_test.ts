/**
 * flags.ts: the decision rules, and flag() reading monitoring.feature_flags through its cache.
 * Run with the middleware's tests (tests/core/functions/test_shared_middleware.py sets
 * SUPABASE_DB_URL).
 * That TypeScript and SQL bucket every subject alike is tests/core/flags/test_feature_flags.py.
 */
import { ok as assert } from "node:assert/strict";
import { db } from "./db.ts";
import { bucket, decide, flag } from "./flags.ts";

const SUBJECT = "0b7c1f52-3f5e-4a36-9d0c-9a3f1b2c4d5e";

Deno.test("a disabled flag is off for everyone, allow-listed subjects too", () => {
  const state = { enabled: false, percentage: 100, allow: [SUBJECT] };
  assert(!decide("f", state, SUBJECT));
  assert(!decide("f", undefined, SUBJECT)); // unknown flag
});

Deno.test("the allow-list wins at 0 %; at 100 % everyone is in, with or without a subject", () => {
  assert(decide("f", { enabled: true, percentage: 0, allow: [SUBJECT] }, SUBJECT));
  assert(!decide("f", { enabled: true, percentage: 0, allow: [] }, SUBJECT));
  assert(decide("f", { enabled: true, percentage: 100, allow: [] }, null));
  assert(!decide("f", { enabled: true, percentage: 99.99, allow: [] }, null));
});

Deno.test("a subject is in when its bucket is below the percentage times 100", () => {
  const b = bucket("f", SUBJECT);
  const at = (percentage: number) => decide("f", { enabled: true, percentage, allow: [] }, SUBJECT);
  assert(at((b + 1) / 100));
  assert(!at(b / 100));
});

Deno.test("flag() answers from the table, read once per cache period", async () => {
  const name = `deno_test_${crypto.randomUUID().replaceAll("-", "")}`;
  await db()`insert into monitoring.feature_flags (name, app, description, enabled, percentage)
             values (${name}, 'test', 'a test flag', true, 100)`;
  assert(await flag(name, SUBJECT));
  await db()`update monitoring.feature_flags set enabled = false where name = ${name}`;
  assert(await flag(name, SUBJECT)); // cached: the change reaches it within FLAG_CACHE_MS
  await db()`delete from monitoring.feature_flags where name = ${name}`;
});
