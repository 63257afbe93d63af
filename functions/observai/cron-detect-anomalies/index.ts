/** Every 15 minutes: record the 5-minute buckets far off their day's mean (observai.detect_anomalies). */
import { db } from "../../_shared/mod.ts";
import { serveJob } from "../_lib/job.ts";

serveJob(import.meta.url, async () => {
  const [row] = await db()`select observai.detect_anomalies() as found`;
  return { anomalies: Number(row.found) };
});
