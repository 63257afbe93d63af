/**
 * GET ?userId: the user's archetype (type, confidence, the features it came from, when it was
 * computed); average_user with confidence 0 before the first computation. A user asks for
 * themselves (userId defaults to them); an admin for anyone, audited.
 */
import { db, HttpError, json, serve } from "../../_shared/mod.ts";
import { asker, personalizedError } from "../_lib/access.ts";

serve(import.meta.url, { callers: ["user", "service"] }, async (req, ctx) => {
  if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET");
  const who = asker(new URL(req.url), ctx.caller);
  try {
    const [row] = await db()`
      select personalized.archetype_of(${who.caller}, ${who.isAdmin}, ${who.subject}) as answer`;
    return json(200, row.answer);
  } catch (err) {
    throw personalizedError(err);
  }
});
