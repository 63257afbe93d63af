/** Every 5 minutes: roll the points up to 1 minute, 5 minutes and 1 hour (observai.aggregate). */
import { db } from "../../_shared/mod.ts";
import { serveJob } from "../_lib/job.ts";

serveJob(import.meta.url, async () => {
  const rows = await db()`select resolution, buckets from observai.aggregate()`;
  return { rollups: Object.fromEntries(rows.map((r) => [r.resolution, Number(r.buckets)])) };
});
