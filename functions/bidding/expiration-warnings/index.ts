/**
 * A scheduled job (pg_cron, through net.http_post with the Vault-held JOB_SECRET as bearer).
 * Queue "ending soon" notifications for sessions ending within five minutes (once each).
 */
import { db, json, serve } from "../../_shared/mod.ts";

serve(import.meta.url, { callers: ["job", "service"] }, async () => {
  const [row] = await db()`select public.queue_expiration_warnings('5 minutes') as n`;
  return json(200, { warned: Number(row.n) });
});
