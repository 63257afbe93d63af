/**
 * The scheduled functions (the guide's cron/*): each runs one SQL function of the app and
 * answers what it did. Callers: pg_cron with the job secret from Vault, or the service.
 */
import { json, serve } from "../../_shared/mod.ts";

export function serveJob(entrypointUrl: string, run: () => Promise<Record<string, unknown>>) {
  serve(entrypointUrl, { callers: ["job", "service"] }, async (req) => {
    await req.body?.cancel();
    return json(200, await run());
  });
}
