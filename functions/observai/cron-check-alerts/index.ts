/** Every minute: evaluate the organizations' alerts, notify on changes (observai.check_alerts). */
import { db } from "../../_shared/mod.ts";
import { serveJob } from "../_lib/job.ts";

serveJob(import.meta.url, async () => {
  const [row] = await db()`select fired, resolved from observai.check_alerts()`;
  return { fired: Number(row.fired), resolved: Number(row.resolved) };
});
