/**
 * The middleware against a real Postgres (SUPABASE_DB_URL, with the monitoring app's
 * migrations applied): run by tests/core/functions/test_shared_middleware.py, which sets the
 * database up and passes JOB_SECRET, SUPABASE_SERVICE_ROLE_KEY, the new API keys and
 * ALLOWED_ORIGINS. The rate limits' own tests are ratelimit_test.ts.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { identify } from "./auth.ts";
import { db } from "./db.ts";
import { type Context, handle, json } from "./handler.ts";
import {
  call,
  collect,
  functionWith,
  invocations,
  settled,
  token,
  USER,
  userHeaders,
} from "./test_helpers.ts";
import { field, readJson } from "./validate.ts";

Deno.test("a signed-in user reaches the handler and the invocation is recorded", async () => {
  const entry = await functionWith({ name: "whoami" });
  const handler = handle(
    entry,
    {},
    (_req, ctx: Context) => json(200, { user: ctx.caller.userId }),
    collect,
  );
  const res = await call(handler, { headers: { ...userHeaders, "x-request-id": "req-user-1" } });
  assertEquals(res.status, 200);
  assertEquals(res.body, { user: USER });
  assertEquals(res.headers.get("x-request-id"), "req-user-1");
  await settled();
  assertEquals(await invocations("req-user-1"), [
    { function_name: "whoami", status: 200, error_class: null, variant: null },
  ]);
});

Deno.test("a handler serving two paths of a migration has its path recorded", async () => {
  const entry = await functionWith({ name: "two-paths" });
  const handler = handle(entry, {}, (_req, ctx: Context) => {
    ctx.variant = "new";
    return json(200, {});
  }, collect);
  await call(handler, { headers: { ...userHeaders, "x-request-id": "req-variant-1" } });
  await settled();
  assertEquals(await invocations("req-variant-1"), [
    { function_name: "two-paths", status: 200, error_class: null, variant: "new" },
  ]);
});

Deno.test("invocations arriving together are written together, none lost", async () => {
  const entry = await functionWith({ name: "burst" });
  const handler = handle(entry, {}, () => json(200, {}), collect);
  const ids = Array.from({ length: 150 }, (_, i) => `req-burst-${i}`);
  await Promise.all(
    ids.map((id) => call(handler, { headers: { ...userHeaders, "x-request-id": id } })),
  );
  await settled();
  const [row] = await db()`
    select count(*)::int as n from monitoring.function_invocations
    where request_id = any(${ids}::text[])`;
  assertEquals(row.n, 150); // more than one batch (100 rows), every row written once
});

Deno.test("anonymous callers get 401 JSON with the request id", async () => {
  const handler = handle(await functionWith({ name: "private" }), {}, () => json(200, {}), collect);
  const res = await call(handler, { headers: { "x-request-id": "req-anon-1" } });
  assertEquals(res.status, 401);
  assertEquals((res.body.error as Record<string, string>).code, "UNAUTHORIZED");
  assertEquals(res.body.request_id, "req-anon-1");
  await settled();
  assertEquals((await invocations("req-anon-1"))[0].error_class, "UNAUTHORIZED");
});

Deno.test("jobs authenticate with the job secret; a wrong one is refused", async () => {
  const handler = handle(
    await functionWith({ name: "job", verifyJwt: false }),
    {
      callers: ["job"],
    },
    (_req, ctx) => json(200, { kind: ctx.caller.kind }),
    collect,
  );
  const ok = await call(handler, { headers: { "x-job-secret": Deno.env.get("JOB_SECRET")! } });
  assertEquals([ok.status, ok.body.kind], [200, "job"]);
  const bearer = await call(handler, {
    headers: { authorization: `Bearer ${Deno.env.get("JOB_SECRET")}` },
  });
  assertEquals([bearer.status, bearer.body.kind], [200, "job"]); // how pg_cron jobs call
  const wrong = await call(handler, { headers: { "x-job-secret": "guess" } });
  assertEquals(wrong.status, 401);
  const user = await call(handler, { headers: userHeaders });
  assertEquals(user.status, 401); // verify_jwt off: an unverified JWT is no user
  const service = await call(handler, {
    headers: { authorization: `Bearer ${Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")}` },
  });
  assertEquals(service.status, 403);
  await settled();
});

Deno.test("the new API keys: a secret key is the service, a publishable key is anonymous", async () => {
  const handler = handle(
    await functionWith({ name: "keys", verifyJwt: false }),
    { callers: ["anon", "service"] },
    (_req, ctx) => json(200, { kind: ctx.caller.kind }),
    collect,
  );
  const secret: string = JSON.parse(Deno.env.get("SUPABASE_SECRET_KEYS")!).default;
  const publishable: string = JSON.parse(Deno.env.get("SUPABASE_PUBLISHABLE_KEYS")!).default;
  const kinds = [];
  for (
    const headers of <Record<string, string>[]> [
      { authorization: `Bearer ${secret}` },
      { apikey: secret },
      { authorization: `Bearer ${publishable}`, apikey: publishable },
      { authorization: `Bearer ${secret.slice(0, -1)}x` }, // a near miss is no key
    ]
  ) {
    kinds.push((await call(handler, { headers })).body.kind);
  }
  assertEquals(kinds, ["service", "service", "anon", "anon"]);
  await settled();
});

Deno.test("a prepared query still answers after a migration changed its table", async () => {
  const table = `prepared_${crypto.randomUUID().replaceAll("-", "")}`;
  await db().unsafe(`create table public.${table} (id int)`);
  const sql = await db().reserve(); // one connection: where the statement is prepared
  const read = () => sql`select * from public.${sql(table)} where id is distinct from ${0}`;
  await read();
  await read(); // prepared on this connection now
  await db().unsafe(`alter table public.${table} add column note text default 'new'`);
  const after = await read(); // the cached plan no longer fits: prepared again, retried
  assertEquals([...after.columns.map((c) => c.name)], ["id", "note"]);
  sql.release();
  await db().unsafe(`drop table public.${table}`);
});

Deno.test("bad JSON is 400, a bad field is 422 naming it", async () => {
  const handler = handle(await functionWith({ name: "validate" }), {}, async (req) => {
    const body = await readJson(req);
    return json(200, { amount: field.number(body, "amount", { min: 1 }) });
  }, collect);
  const bad = await call(handler, { headers: userHeaders, body: "{not json" });
  assertEquals([bad.status, (bad.body.error as Record<string, string>).code], [400, "BAD_JSON"]);
  const low = await call(handler, { headers: userHeaders, body: JSON.stringify({ amount: 0 }) });
  assertEquals(low.status, 422);
  assertEquals((low.body.error as Record<string, string>).message, "amount: at least 1");
  await settled();
});

Deno.test("an unexpected error is a 500 without details, recorded with its class", async () => {
  const handler = handle(await functionWith({ name: "broken" }), {}, () => {
    throw new TypeError("secret internals");
  }, collect);
  const res = await call(handler, { headers: { ...userHeaders, "x-request-id": "req-500" } });
  assertEquals(res.status, 500);
  assertEquals(res.body.error, { code: "INTERNAL", message: "Internal error" });
  await settled();
  assertEquals((await invocations("req-500"))[0].error_class, "TypeError");
});

Deno.test("on Supabase the middleware forwards its log lines to the drains that select them", async () => {
  const received: { path: string; lines: Record<string, unknown>[]; auth: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({
      path: new URL(req.url).pathname,
      lines: await req.json(),
      auth: req.headers.get("authorization"),
    });
    return new Response(null, { status: 204 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  Deno.env.set(
    "SUPASTACK_LOG_DRAINS",
    JSON.stringify([
      {
        name: "mine",
        url: `${base}/mine`,
        functions: ["drained"],
        batchSize: 1,
        headers: { authorization: "Bearer d-1" },
      },
      { name: "others", url: `${base}/others`, functions: ["someone-else"], batchSize: 1 },
    ]),
  );
  try {
    const handler = handle(
      await functionWith({ name: "drained" }),
      {},
      () => json(200, {}),
      collect,
    );
    await call(handler, { headers: { ...userHeaders, "x-request-id": "req-drained" } });
    await settled();
    assertEquals(received.map((r) => [r.path, r.auth]), [["/mine", "Bearer d-1"]]);
    assertEquals(received[0].lines[0].function, "drained");
    assertEquals(received[0].lines[0].requestId, "req-drained");
  } finally {
    Deno.env.delete("SUPASTACK_LOG_DRAINS");
    await server.shutdown();
  }
});

Deno.test("a user's token is decoded once; a function the gateway does not verify for never trusts it", () => {
  const request = () => new Request("http://fn.local/", { headers: userHeaders });
  const first = identify(request(), true);
  assertEquals([first.kind, first.userId], ["user", USER]);
  assert(identify(request(), true) === first, "the next request of that token: the same caller");
  assert(Object.isFrozen(first) && Object.isFrozen(first.claims), "shared, so never changed");
  assertEquals(identify(request(), false), { kind: "anon" }); // verify_jwt off: a claim only
  const other = `Bearer ${token({ role: "authenticated", sub: crypto.randomUUID() })}`;
  const second = identify(
    new Request("http://fn.local/", { headers: { authorization: other } }),
    true,
  );
  assert(second !== first && second.userId !== USER, "another token, another caller");
});

Deno.test("a signed token whose subject is not a user id is a 401, not a 500", async () => {
  let reached = false;
  const handler = handle(await functionWith({ name: "whoami" }), {}, () => {
    reached = true;
    return json(200, {});
  }, collect);
  for (const sub of ["not-a-uuid", "1' or '1'='1", 42, undefined]) {
    const authorization = `Bearer ${token({ role: "authenticated", sub })}`;
    const res = await call(handler, { headers: { authorization } });
    assertEquals(res.status, 401, String(sub));
    assertEquals((res.body.error as Record<string, string>).code, "UNAUTHORIZED");
  }
  assertEquals(reached, false);
  await settled();
});

Deno.test("bodies past maxBodyBytes are 413 before the handler parses them", async () => {
  let parsed = 0;
  const handler = handle(
    await functionWith({ name: "limited", maxBodyBytes: 1000 }),
    {},
    async (req) => {
      await readJson(req);
      parsed++;
      return json(200, {});
    },
    collect,
  );
  const body = (size: number) => JSON.stringify({ pad: "x".repeat(size - 10) }); // size bytes
  const ok = await call(handler, { headers: userHeaders, body: body(1000) });
  assertEquals(ok.status, 200);
  const declared = await call(handler, { headers: userHeaders, body: body(1001) });
  assertEquals(declared.status, 413);
  assertEquals((declared.body.error as Record<string, string>).code, "PAYLOAD_TOO_LARGE");
  // Without a Content-Length (chunked), reading stops once the limit is passed.
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(400).fill(32));
    },
  });
  const chunked = await call(handler, { headers: userHeaders, body: endless });
  assertEquals(chunked.status, 413);
  assert(pulled <= 4, `read ${pulled} chunks of 400 bytes`);
  assertEquals(parsed, 1);
  await settled();
});

Deno.test("the default limit is 1 MiB", async () => {
  const handler = handle(await functionWith({ name: "plain" }), {}, () => json(200, {}), collect);
  const big = JSON.stringify({ pad: "x".repeat(5 * 1024 * 1024) });
  assertEquals((await call(handler, { headers: userHeaders, body: big })).status, 413);
  await settled();
});

Deno.test({
  name: "close the pool",
  fn: async () => await db().end(),
  sanitizeOps: false,
  sanitizeResources: false,
});

Deno.test("integrity and concurrency failures are the caller's, in words of our own", async () => {
  const entry = await functionWith({ name: "collides" });
  const cases: [string, number, string][] = [
    ["23505", 409, "CONFLICT"],
    ["23P01", 409, "CONFLICT"],
    ["23503", 422, "INVALID_INPUT"],
    ["23502", 422, "INVALID_INPUT"],
    ["23514", 422, "INVALID_INPUT"],
    ["40001", 409, "RETRY"],
    ["40P01", 409, "RETRY"],
  ];
  for (const [sqlstate, status, code] of cases) {
    const handler = handle(entry, {}, () => {
      // as postgres.js throws it: Postgres's text names the constraint and the other row's key
      throw Object.assign(
        new Error('duplicate key value violates unique constraint "k" (customer_id)=(someone)'),
        { code: sqlstate },
      );
    }, collect);
    const res = await call(handler, { headers: userHeaders });
    assertEquals([res.status, (res.body.error as Record<string, string>).code], [status, code]);
    assert(!JSON.stringify(res.body).includes("someone"), sqlstate);
  }
  await settled();
});

Deno.test("a text field refuses NUL characters, unpaired surrogates and over-long text", async () => {
  const entry = await functionWith({ name: "names" });
  const handler = handle(entry, {}, async (req) => {
    const body = await readJson(req);
    return json(200, { name: field.string(body, "name", { max: 100 }) });
  }, collect);
  const cases: [string, number, string][] = [
    ['{"name": "ada"}', 200, ""],
    ['{"name": "a\\u0000b"}', 422, "name: a text without NUL characters or unpaired surrogates"],
    ['{"name": "a\\ud800b"}', 422, "name: a text without NUL characters or unpaired surrogates"],
    ['{"name": "a\\udc00"}', 422, "name: a text without NUL characters or unpaired surrogates"],
    [JSON.stringify({ name: "x".repeat(101) }), 422, "name: at most 100 characters"],
    ['{"name": "\\ud83d\\ude00"}', 200, ""], // a pair is a character
  ];
  for (const [body, status, message] of cases) {
    const res = await call(handler, { headers: userHeaders, body });
    assertEquals(res.status, status, body);
    if (message) assertEquals((res.body.error as Record<string, string>).message, message);
  }
  await settled();
});
