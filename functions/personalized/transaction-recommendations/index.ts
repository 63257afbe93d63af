/**
 * GET ?userId&targetDate&roommateId: three ways to settle a date change with a roommate, the
 * primary one first, for the user's archetype and context, when the flag
 * pattern_1_personalized_defaults is on for the user; otherwise the product's default order,
 * saying so. A user asks for themselves (userId defaults to them); an admin for anyone, and
 * that read is audited. Every answer is logged (personalized.recommendation_logs).
 */
import { db, flag, HttpError, json, serve } from "../../_shared/mod.ts";
import { asker, personalizedError } from "../_lib/access.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function required(url: URL, name: string, pattern: RegExp, what: string): string {
  const value = url.searchParams.get(name);
  if (value === null || !pattern.test(value) || (pattern === DATE && isNaN(Date.parse(value)))) {
    throw new HttpError(422, "INVALID_INPUT", `${name}: ${what} is required`);
  }
  return value;
}

serve(import.meta.url, { callers: ["user", "service"] }, async (req, ctx) => {
  if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET");
  const url = new URL(req.url);
  const who = asker(url, ctx.caller);
  const targetDate = required(url, "targetDate", DATE, "a date (YYYY-MM-DD)");
  const roommateId = required(url, "roommateId", UUID, "a UUID");
  const personalized = await flag("pattern_1_personalized_defaults", who.subject);
  try {
    const [row] = await db()`
      select personalized.recommend(${who.caller}, ${who.isAdmin}, ${who.subject},
                                    ${roommateId}, ${targetDate}, ${personalized}) as answer`;
    return json(200, row.answer);
  } catch (err) {
    throw personalizedError(err);
  }
});
