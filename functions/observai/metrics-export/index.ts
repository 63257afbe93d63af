/**
 * GET [?organization]: an organization's latest complete minute of every series of the last
 * day, in the Prometheus text format (0.0.4), for the guide's Prometheus scrape. Four gauge
 * families (avg, min, max, count per minute); the metric's own name is the `name` label, so
 * any name the hub accepts is a valid exposition.
 */
import { db, HttpError, serve } from "../../_shared/mod.ts";
import { observaiError, principal } from "../_lib/access.ts";

const FAMILIES = [
  ["observai_metric_avg", "Mean of the metric's points in its latest rolled-up minute"],
  ["observai_metric_min", "Smallest point of the metric in its latest rolled-up minute"],
  ["observai_metric_max", "Largest point of the metric in its latest rolled-up minute"],
  ["observai_metric_count", "Points of the metric in its latest rolled-up minute"],
] as const;

/** A label value as the text format escapes it: backslash, double quote, line feed. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

interface Minute {
  slug: string;
  name: string;
  bucket: Date;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export function exposition(minutes: Minute[]): string {
  const lines: string[] = [];
  for (const [family, help] of FAMILIES) {
    lines.push(`# HELP ${family} ${help}`, `# TYPE ${family} gauge`);
    for (const m of minutes) {
      const value = family.endsWith("avg")
        ? m.sum / m.count
        : family.endsWith("min")
        ? m.min
        : family.endsWith("max")
        ? m.max
        : m.count;
      const labels = `organization="${label(m.slug)}",name="${label(m.name)}"`;
      lines.push(`${family}{${labels}} ${value} ${m.bucket.getTime() + 60_000}`);
    }
  }
  return lines.join("\n") + "\n";
}

serve(import.meta.url, { callers: ["anon", "user"] }, async (req, ctx) => {
  if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET");
  const who = principal(req, ctx.caller);
  try {
    const [reader] = await db()`
      select (observai.authorize(${who.keyDigest}::bytea, ${who.userId}::uuid,
                                 ${who.organization}, 'read')).organization_id`;
    const rows = await db()`
      select slug, name, bucket, count, sum, min, max
        from observai.latest_minutes(${reader.organization_id}::uuid)`;
    const minutes = rows.map((r) => ({
      slug: r.slug,
      name: r.name,
      bucket: new Date(r.bucket),
      count: Number(r.count),
      sum: Number(r.sum),
      min: Number(r.min),
      max: Number(r.max),
    }));
    return new Response(exposition(minutes), {
      status: 200,
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  } catch (err) {
    throw observaiError(err);
  }
});
