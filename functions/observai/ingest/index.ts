/**
 * POST {metrics: [{name, value, tags?, timestamp?}]}: store a batch of an organization's
 * points (the guide's body). Each point is checked here, naming the one at fault; the batch
 * size and the request rate per organization follow its tier (observai.tiers) and are checked
 * in SQL with the insert, so the batch is stored whole or not at all.
 */
import { type Body, db, HttpError, json, readJson, serve } from "../../_shared/mod.ts";
import { observaiError, principal } from "../_lib/access.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$/;
const MAX_TAGS = 20;
/** Points may be late by up to 90 days (then retention takes them) and early by 5 minutes. */
const OLDEST_MS = 90 * 86_400_000;
const FUTURE_MS = 5 * 60_000;

interface Point {
  name: string;
  value: number;
  tags: Record<string, string>;
  timestamp: string;
}

function invalid(where: string, why: string): HttpError {
  return new HttpError(422, "INVALID_INPUT", `${where}: ${why}`);
}

function point(given: unknown, index: number, now: number): Point {
  const at = `metrics[${index}]`;
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw invalid(at, "an object is required");
  }
  const p = given as Body;
  for (const key of Object.keys(p)) {
    if (!["name", "value", "tags", "timestamp"].includes(key)) {
      throw invalid(`${at}.${key}`, "unknown field");
    }
  }
  if (typeof p.name !== "string" || !NAME.test(p.name)) {
    throw invalid(
      `${at}.name`,
      "letters, digits, _ . : - (at most 200), not starting with a digit",
    );
  }
  if (typeof p.value !== "number" || !Number.isFinite(p.value)) {
    throw invalid(`${at}.value`, "a finite number is required");
  }
  const tags = p.tags ?? {};
  if (typeof tags !== "object" || tags === null || Array.isArray(tags)) {
    throw invalid(`${at}.tags`, "an object of texts is required");
  }
  const entries = Object.entries(tags as Body);
  if (entries.length > MAX_TAGS) throw invalid(`${at}.tags`, `at most ${MAX_TAGS} tags`);
  for (const [key, value] of entries) {
    if (typeof value !== "string" || key.length > 100 || value.length > 200) {
      throw invalid(`${at}.tags.${key}`, "a text of at most 200 characters is required");
    }
  }
  let timestamp = new Date(now).toISOString();
  if (p.timestamp !== undefined) {
    const ms = typeof p.timestamp === "string" ? Date.parse(p.timestamp) : NaN;
    if (Number.isNaN(ms)) throw invalid(`${at}.timestamp`, "an ISO 8601 time is required");
    if (ms > now + FUTURE_MS || ms < now - OLDEST_MS) {
      throw invalid(`${at}.timestamp`, "within the last 90 days and at most 5 minutes ahead");
    }
    timestamp = new Date(ms).toISOString();
  }
  return { name: p.name, value: p.value, tags: tags as Record<string, string>, timestamp };
}

serve(import.meta.url, { callers: ["anon", "user"] }, async (req, ctx) => {
  if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use POST");
  const who = principal(req, ctx.caller);
  const body = await readJson(req);
  if (!Array.isArray(body.metrics) || body.metrics.length === 0) {
    throw invalid("metrics", "a non-empty array is required");
  }
  const now = Date.now();
  const points = body.metrics.map((p, i) => point(p, i, now));
  try {
    const [row] = await db()`
      select observai.ingest(${who.keyDigest}::bytea, ${who.userId}::uuid, ${who.organization},
                             ${JSON.stringify(points)}::text::jsonb) as stored`;
    return json(202, { accepted: Number(row.stored) });
  } catch (err) {
    throw observaiError(err);
  }
});
