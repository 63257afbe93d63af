/**
 * GET ?name&from&to&step&aggregation[&organization]: a series of an organization, `aggregation`
 * (avg, sum, min, max, count) per `step` seconds, read from the coarsest rollup that divides
 * the step (observai.series). Defaults: the last hour by minute, avg. `from` and `to` are
 * aligned to the step, so repeated dashboard queries share a cache entry (30 s, `x-cache`).
 */
import { db, type Fragment, HttpError, serve } from "../../_shared/mod.ts";
import { observaiError, principal } from "../_lib/access.ts";
import { cached, cacheOn, type CacheState } from "../_lib/cache.ts";

const AGGREGATIONS = ["avg", "sum", "min", "max", "count"];
const MAX_POINTS = 10_000;
const MAX_RANGE_MS = 400 * 86_400_000;
const CACHE_SECONDS = 30;

function invalid(why: string): HttpError {
  return new HttpError(422, "INVALID_INPUT", why);
}

function time(url: URL, name: string, fallback: number): number {
  const given = url.searchParams.get(name);
  if (given === null) return fallback;
  const ms = Date.parse(given);
  if (Number.isNaN(ms)) throw invalid(`${name}: an ISO 8601 time is required`);
  return ms;
}

serve(import.meta.url, { callers: ["anon", "user"] }, async (req, ctx) => {
  if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET");
  const who = principal(req, ctx.caller);
  const url = new URL(req.url);
  const name = url.searchParams.get("name");
  if (!name || name.length > 200) throw invalid("name: a metric name is required");
  const step = Number(url.searchParams.get("step") ?? "60");
  if (!Number.isInteger(step) || step < 1 || step > 86_400) {
    throw invalid("step: whole seconds, 1 to 86400");
  }
  const aggregation = url.searchParams.get("aggregation") ?? "avg";
  if (!AGGREGATIONS.includes(aggregation)) {
    throw invalid(`aggregation: one of ${AGGREGATIONS.join(", ")}`);
  }
  const stepMs = step * 1000;
  const to = Math.ceil(time(url, "to", Date.now()) / stepMs) * stepMs;
  const from = Math.floor(time(url, "from", to - 3_600_000) / stepMs) * stepMs;
  if (from >= to) throw invalid("from: must be before to");
  if (to - from > MAX_RANGE_MS) throw invalid("from: at most 400 days before to");
  if ((to - from) / stepMs > MAX_POINTS) throw invalid(`step: at most ${MAX_POINTS} points`);
  const fromIso = new Date(from).toISOString();
  const toIso = new Date(to).toISOString();
  const sql = db();
  try {
    const authorized = sql`observai.authorize(${who.keyDigest}::bytea, ${who.userId}::uuid,
                                             ${who.organization}, 'read')`;
    const series = (organization: Fragment) =>
      sql`observai.series_json(${organization}, ${name}, ${fromIso}::timestamptz,
                               ${toIso}::timestamptz, ${step}::integer, ${aggregation})`;
    let organizationId: string, points: string, cache: CacheState;
    if (!cacheOn()) {
      // no cache to look in: authorized and read in one statement (one round trip, not two);
      // the series is read only once authorize() has returned
      const [row] = await sql`
        select a.organization_id, ${series(sql`a.organization_id`)} as json
          from ${authorized} a`;
      [organizationId, points, cache] = [row.organization_id, row.json, "off"];
    } else {
      const [reader] = await sql`select (${authorized}).organization_id`;
      organizationId = reader.organization_id;
      const key = ["observai", "series", organizationId, name, from, to, step, aggregation]
        .join(":");
      // the points come as JSON text (observai.series_json), passed through and cached so
      ({ value: points, cache } = await cached(key, CACHE_SECONDS, async () => {
        const [read] = await sql`select ${series(sql`${organizationId}::uuid`)} as json`;
        return read.json;
      }));
    }
    const answer = JSON.stringify({
      organizationId,
      name,
      from: fromIso,
      to: toIso,
      step,
      aggregation,
    });
    return new Response(`${answer.slice(0, -1)},"points":${points}}`, {
      headers: { "content-type": "application/json", "x-cache": cache },
    });
  } catch (err) {
    throw observaiError(err);
  }
});
