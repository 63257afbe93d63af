/**
 * What the middleware writes to the console per invocation: nothing for one that succeeded or
 * was refused (the platform logs every invocation, and its row holds the rest), one error line
 * for a failed one, with its request id and error class. Against a real Postgres, like
 * handler_test.ts.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { db } from "./db.ts";
import { handle, json } from "./handler.ts";
import { invocationsWritten } from "./invocations.ts";
import { call, collect, functionWith, invocations, settled, userHeaders } from "./test_helpers.ts";

/** The console lines `work` writes (console.log and console.error), parsed. */
async function consoleLines(work: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const { log, error } = console;
  console.log = console.error = (line: string) => lines.push(JSON.parse(line));
  try {
    await work();
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
  try {
    const handler = handle(await functionWith({ name: "held" }), {}, () => json(200, {}), collect);
    const lines = await consoleLines(async () => {
      await call(handler, { headers: { ...userHeaders, "x-request-id": "req-held" } });
      await settled(); // its batch's write has failed
    });
    assertEquals(lines.map(({ event, held, dropped }) => ({ event, held, dropped })), [
      { event: "invocations-held", held: 1, dropped: 0 },
    ]);
    assertEquals(await invocations("req-held"), []);
  } finally {
    await db()`alter table monitoring.function_invocations drop constraint refuse_held`;
  }
  const [{ back }] = await db()`select now() as back`;
  await invocationsWritten();
  const rows = await db()`select status, invoked_at from monitoring.function_invocations
    where request_id = 'req-held'`;
  assertEquals(rows.map((r) => [r.status, r.invoked_at < back]), [[200, true]]);
});
