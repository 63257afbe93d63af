/**
 * GET the public listing: `?view=events` (default; published upcoming events from
 * event_search_mv, `&org=<slug>&limit=`), `?view=locations|instructors&org=<slug>`, or
 * `?view=organization&org=<slug>` (its branding). Each with the guide's edge-cache lifetime
 * as Cache-Control: listings 60 s at the edge (30 s in browsers), locations and instructors
 * 5 minutes, branding an hour. Public data only, read with the service connection.
 */
import { db, HttpError, json, serve } from "../../_shared/mod.ts";

const CACHE = {
  events: "public, max-age=30, s-maxage=60",
  locations: "public, max-age=300, s-maxage=300",
  instructors: "public, max-age=300, s-maxage=300",
  organization: "public, max-age=3600, s-maxage=3600",
} as const;
type View = keyof typeof CACHE;
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

serve(import.meta.url, { callers: ["anon", "user", "service"] }, async (req) => {
  if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET");
  const params = new URL(req.url).searchParams;
  const view = (params.get("view") ?? "events") as View;
  if (!(view in CACHE)) {
    throw new HttpError(422, "INVALID_INPUT", `view: one of ${Object.keys(CACHE).join(", ")}`);
  }
  const slug = params.get("org");
  if (slug !== null && !SLUG.test(slug)) throw new HttpError(422, "INVALID_INPUT", "org: a slug");
  if (view !== "events" && slug === null) {
    throw new HttpError(422, "INVALID_INPUT", "org: required for this view");
  }
  const limit = Math.min(Math.max(Number(params.get("limit") ?? 50) || 50, 1), 200);
  const sql = db();
  let body: unknown;
  if (view === "events") {
    // each row's JSON is stored in the read model (its `listing`, made at each refresh):
    // the answer joins the stored texts, so no request makes JSON of 50 rows or decodes them
    const [listing] = await sql`
      select coalesce('[' || string_agg(listing, ',' order by starts_at) || ']', '[]') as json
        from (select listing, starts_at from events.event_search_mv
               where starts_at > now() and (${slug}::text is null or org_slug = ${slug})
               order by starts_at limit ${limit}) e`;
    return new Response(listing.json, {
      headers: { "content-type": "application/json", "cache-control": CACHE[view] },
    });
  } else {
    const [org] =
      await sql`select id, name, branding from events.organizations where slug = ${slug}`;
    if (!org) throw new HttpError(404, "NOT_FOUND", "organization not found");
    body = view === "organization"
      ? { name: org.name, branding: org.branding }
      : view === "locations"
      ? await sql`select id, name, address, timezone from events.locations where org_id = ${org.id} order by name`
      : await sql`select id, name, bio from events.instructors where org_id = ${org.id} order by name`;
  }
  return json(200, body, { "cache-control": CACHE[view] });
});
