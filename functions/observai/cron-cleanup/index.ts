/** Daily at 03:00 UTC: retention by tier and the 90-day archive (observai.cleanup). */
import { db } from "../../_shared/mod.ts";
import { serveJob } from "../_lib/job.ts";

serveJob(import.meta.url, async () => {
  const [row] = await db()`select archived, deleted, partitions_dropped from observai.cleanup()`;
  return {
    archived: Number(row.archived),
    deleted: Number(row.deleted),
    partitionsDropped: Number(row.partitions_dropped),
  };
});
