/**
 * The headers the middleware adds to every answer: CORS from ALLOWED_ORIGINS and the request
 * id, on a response the handler made and on one whose headers cannot change. Run like
 * handler_test.ts.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { handle, json } from "./handler.ts";
import { call, collect, functionWith, settled, userHeaders } from "./test_helpers.ts";

Deno.test("CORS follows ALLOWED_ORIGINS, preflight included", async () => {
  const handler = handle(await functionWith({ name: "cors" }), {}, () => json(200, {}), collect);
  const allowed = Deno.env.get("ALLOWED_ORIGINS")!.split(",")[0];
  const pre = await handler(
    new Request("http://fn.local/", { method: "OPTIONS", headers: { origin: allowed } }),
  );
  assertEquals(pre.status, 204);
  assertEquals(pre.headers.get("access-control-allow-origin"), allowed);
  const foreign = await call(handler, { headers: { ...userHeaders, origin: "https://evil.test" } });
  assertEquals(foreign.headers.get("access-control-allow-origin"), null);
  await settled();
});

Deno.test("a response whose headers cannot change still gets the request id and CORS", async () => {
  // Response.redirect's headers are immutable, as a fetch() response's are
  const handler = handle(
    await functionWith({ name: "redirects" }),
    {},
    () => Response.redirect("https://example.com/elsewhere", 307),
    collect,
  );
  const allowed = Deno.env.get("ALLOWED_ORIGINS")!.split(",")[0];
  const res = await call(handler, {
    headers: { ...userHeaders, "x-request-id": "req-307", origin: allowed },
  });
  assertEquals(res.status, 307);
  assertEquals(res.headers.get("location"), "https://example.com/elsewhere");
  assertEquals(res.headers.get("x-request-id"), "req-307");
  assertEquals(res.headers.get("access-control-allow-origin"), allowed);
});
