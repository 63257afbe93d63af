/**
 * A scheduled job (pg_cron, through net.http_post with the Vault-held JOB_SECRET as bearer).
 * Archive sessions closed more than 30 days ago (kept, never deleted).
 */
import { db, json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["job", "service"] }, async () => {
  const [row] = await db()`select public.archive_closed_sessions('30 days') as n`;
  return json(200, { archived: Number(row.n) });
});
