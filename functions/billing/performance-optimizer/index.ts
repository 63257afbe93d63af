/**
 * The guide's `performance-optimizer`, for the service. POST {operation:
 * "benchmark_all_functions", hours?} answers each billing function's p50 / p95 and error rate
 * over the last `hours` (default 24, at most 168) against its target
 * (billing.performance_targets), and `passed` when all meet theirs.
 *
 * These are the figures of every real invocation the middleware recorded, not of a synthetic
 * run from inside the platform (a function calling its neighbours on the same runtime would
 * measure the runtime's contention, not the functions). The load benchmark, with cold and warm
 * starts, is bench/billing.py.
 */
import { db, field, HttpError, json, readJson, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["service"] }, async (req) => {
  if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use POST");
  const body = await readJson(req);
  if (body.operation !== "benchmark_all_functions") {
    throw new HttpError(422, "INVALID_INPUT", "operation: benchmark_all_functions");
  }
  const hours = body.hours === undefined ? 24 : field.number(body, "hours", { min: 1, max: 168 });
  const functions = await db()`
    select function_name as "function", invocations::int, error_rate as "errorRate",
           p50_ms as "p50Ms", p95_ms as "p95Ms", target_p95_ms as "targetP95Ms",
           meets_target as "meetsTarget"
      from billing.performance_summary(make_interval(hours => ${Math.floor(hours)}::integer))`;
  return json(200, {
    hours: Math.floor(hours),
    passed: functions.every((f) => f.meetsTarget),
    functions,
  });
});
