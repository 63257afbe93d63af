/**
 * A scheduled job (pg_cron, through net.http_post with the Vault-held JOB_SECRET as bearer).
 * Close the sessions that have ended: the leader wins, everyone is told.
 */
import { db, json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["job", "service"] }, async () => {
  const [row] = await db()`select public.close_expired_sessions() as n`;
  return json(200, { closed: Number(row.n) });
});
