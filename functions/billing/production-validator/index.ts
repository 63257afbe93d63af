/**
 * The guide's `production-validator`, for the service (and the deploy pipeline after `pulumi
 * up`). POST {validation_type: "quick" | "comprehensive"} runs billing.validate_production:
 * quick — no webhook job stuck or dead-lettered, no billing alert firing, no traffic migration
 * halted; comprehensive — also the security scan, the scheduled jobs, every function's p95 and
 * error targets over a day, and prices on sale. Answers each check and `passed` (200 either
 * way: the answer is the verdict).
 */
import { db, HttpError, json, readJson, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["service"] }, async (req) => {
  if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use POST");
  const kind = (await readJson(req)).validation_type;
  if (kind !== "quick" && kind !== "comprehensive") {
    throw new HttpError(422, "INVALID_INPUT", "validation_type: quick or comprehensive");
  }
  const checks = await db()`
    select check_name as check, passed, detail
      from billing.validate_production(${kind === "comprehensive"})`;
  return json(200, { validationType: kind, passed: checks.every((c) => c.passed), checks });
});
