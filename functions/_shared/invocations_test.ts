/**
 * What the middleware writes to the console per invocation: nothing for one that succeeded or
 * was refused (the platform logs every invocation, and its row holds the rest), one error line
 * for a failed one, with its request id and error class. Against a real Postgres, like
 * handler_test.ts.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { db } from "./db.ts";
import { handle, json } from "./handler.ts";
import { call, collect, functionWith, invocations, settled, userHeaders } from "./test_helpers.ts";

/** The console lines `work` writes (console.log and console.error), parsed; `work` may wait
 * for a line of an event (`logged`). */
async function consoleLines(
  work: (logged: (event: string) => Promise<void>) => Promise<void>,
): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const waiting: { event: string; resolve: () => void }[] = [];
  const { log, error } = console;
  console.log = console.error = (line: string) => {
    const parsed = JSON.parse(line);
    lines.push(parsed);
    for (const w of waiting) if (w.event === parsed.event) w.resolve();
  };
  const logged = (event: string) =>
    new Promise<void>((resolve) => {
      if (lines.some((line) => line.event === event)) resolve();
      else waiting.push({ event, resolve });
    });
  try {
    await work(logged);
  } finally {
    Object.assign(console, { log, error });
  }
  return lines;
}

Deno.test("a served or refused call writes no console line; its row is recorded", async () => {
  const handler = handle(await functionWith({ name: "quiet" }), {}, () => json(200, {}), collect);
  const lines = await consoleLines(async () => {
    await call(handler, { headers: { ...userHeaders, "x-request-id": "req-quiet-200" } });
    await call(handler, { headers: { "x-request-id": "req-quiet-401" } });
    await settled();
  });
  assertEquals(lines, []);
  assertEquals((await invocations("req-quiet-200"))[0].status, 200);
  assertEquals((await invocations("req-quiet-401"))[0].error_class, "UNAUTHORIZED");
});

Deno.test("a failed call writes one error line with its request id and error class", async () => {
  const handler = handle(await functionWith({ name: "loud" }), {}, () => {
    throw new RangeError("internals");
  }, collect);
  const lines = await consoleLines(async () => {
    await call(handler, { headers: { ...userHeaders, "x-request-id": "req-loud" } });
    await settled();
  });
  const invocation = lines.filter((line) => line.event === "invocation");
  assertEquals(
    invocation.map(({ level, function: fn, status, requestId, errorClass }) => ({
      level,
      fn,
      status,
      requestId,
      errorClass,
    })),
    [{ level: "error", fn: "loud", status: 500, requestId: "req-loud", errorClass: "RangeError" }],
  );
});

Deno.test("a batch the database refused is written once it can be, dated when its call ended", async () => {
  // the database refuses this function's rows (as it would any while restarting)
  await db()`alter table monitoring.function_invocations
    add constraint refuse_held check (function_name <> 'held') not valid`;
  let lines: Record<string, unknown>[] = [];
  try {
    const handler = handle(await functionWith({ name: "held" }), {}, () => json(200, {}), collect);
    lines = await consoleLines(async (logged) => {
      await call(handler, { headers: { ...userHeaders, "x-request-id": "req-held" } });
      await logged("invocations-held"); // its batch's write has failed
    });
    assertEquals(await invocations("req-held"), []);
  } finally {
    await db()`alter table monitoring.function_invocations drop constraint refuse_held`;
  }
  assertEquals(lines.map(({ event, held, dropped }) => ({ event, held, dropped })), [
    { event: "invocations-held", held: 1, dropped: 0 },
  ]);
  const [{ back }] = await db()`select now() as back`;
  await settled(); // the background work handed to the platform ends once the row is written
  const rows = await db()`select status, invoked_at from monitoring.function_invocations
    where request_id = 'req-held'`;
  assertEquals(rows.map((r) => [r.status, r.invoked_at < back]), [[200, true]]);
});
