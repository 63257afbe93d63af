/**
 * One structured JSON log line and one `monitoring.function_invocations` row per invocation.
 * The row is written after the response is handed back, so it never delays a caller; a failed
 * write is logged, not thrown.
 */
import { telemetry } from "./db.ts";
import { Drains } from "./drains.ts";

/** Locally the edge runtime forwards log lines to the drains; on Supabase this module does. */
const drains = Deno.env.get("SUPASTACK_EDGE_RUNTIME") === "local" ? undefined : new Drains();

export interface Invocation {
  function: string;
  status: number;
  durationMs: number;
  errorClass?: string;
  requestId: string;
}

export function log(level: "info" | "error", fields: Record<string, unknown>): void {
  const line = { level, at: new Date().toISOString(), ...fields };
  console.log(JSON.stringify(line));
  drains?.offer([line]);
}

/** Send the drain batches that are due (called after each response). */
export async function flushDrains(): Promise<void> {
  await Promise.all(drains?.flush() ?? []);
}

export function record(invocation: Invocation): Promise<void> {
  log(invocation.status >= 500 ? "error" : "info", { event: "invocation", ...invocation });
  return telemetry()`
    insert into monitoring.function_invocations
      (function_name, status, duration_ms, error_class, request_id)
    values (${invocation.function}, ${invocation.status}, ${invocation.durationMs},
            ${invocation.errorClass ?? null}, ${invocation.requestId})`
    .then(() => {})
    .catch((err) => log("error", { event: "invocation-not-recorded", error: String(err) }));
}
