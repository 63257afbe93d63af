/**
 * One structured JSON log line and one `monitoring.function_invocations` row per invocation.
 * The row is written after the response is handed back, so it never delays a caller; a failed
 * write is logged, not thrown.
 */
import { db } from "./db.ts";

export interface Invocation {
  function: string;
  status: number;
  durationMs: number;
  errorClass?: string;
  requestId: string;
}

export function log(level: "info" | "error", fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level, at: new Date().toISOString(), ...fields }));
}

export function record(invocation: Invocation): Promise<void> {
  log(invocation.status >= 500 ? "error" : "info", { event: "invocation", ...invocation });
  return db()`
    insert into monitoring.function_invocations
      (function_name, status, duration_ms, error_class, request_id)
    values (${invocation.function}, ${invocation.status}, ${invocation.durationMs},
            ${invocation.errorClass ?? null}, ${invocation.requestId})`
    .then(() => {})
    .catch((err) => log("error", { event: "invocation-not-recorded", error: String(err) }));
}
