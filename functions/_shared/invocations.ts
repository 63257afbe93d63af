/**
 * One `monitoring.function_invocations` row per invocation, a log line for a failed one, and
 * every invocation's line to the log drains (see `record`). The row is written after the
 * response is handed back, so it never delays a caller; a failed write is logged, not thrown.
 * Rows are written in batches (every 100 ms, or at 100 rows): one insert for many requests,
 * which under load is most of the database work the middleware adds to a request (measured in
 * bench/events.py).
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
  /** The traffic-migration path that served it, when the function has two. */
  variant?: string;
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

/** How long a row may wait for others, and how many make a batch. */
const BATCH_WAIT_MS = 100;
const BATCH_ROWS = 100;

interface Batch {
  rows: Invocation[];
  /** Write now (the batch is full) rather than when its wait is over. */
  flush: () => void;
  written: Promise<void>;
}

let open: Batch | undefined;

function openBatch(): Batch {
  let flush = () => {};
  const due = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, BATCH_WAIT_MS);
    flush = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const batch: Batch = { rows: [], flush: () => flush(), written: Promise.resolve() };
  batch.written = due.then(() => write(batch));
  return batch;
}

/**
 * Queue the invocation's row, and log it where no one else does; resolves once the row's batch
 * is written. The platform logs every invocation itself (its status and duration: Supabase's
 * function logs; locally the runtime's functions.jsonl) and the row keeps the request id,
 * error class and variant, so only a failed one (5xx) is written to the console, with its error
 * class; the drains get every invocation's line. A console line per request was half of the
 * middleware's CPU per request (docs/testing-and-benchmarks.md).
 */
export function record(invocation: Invocation): Promise<void> {
  if (invocation.status >= 500) log("error", { event: "invocation", ...invocation });
  else if (drains?.active) {
    const line = { level: "info", at: new Date().toISOString(), event: "invocation" };
    drains.offer([{ ...line, ...invocation }]);
  }
  open ??= openBatch();
  const batch = open;
  batch.rows.push(invocation);
  if (batch.rows.length >= BATCH_ROWS) batch.flush();
  return batch.written;
}

/** One insert for the batch's rows (rows arriving from now on open the next batch). */
function write(batch: Batch): Promise<void> {
  if (open === batch) open = undefined;
  const rows = batch.rows;
  return telemetry()`
    insert into monitoring.function_invocations
      (function_name, status, duration_ms, error_class, request_id, variant)
    select * from unnest(${rows.map((r) => r.function)}::text[],
                         ${rows.map((r) => r.status)}::int[],
                         ${rows.map((r) => r.durationMs)}::float8[],
                         ${rows.map((r) => r.errorClass ?? null)}::text[],
                         ${rows.map((r) => r.requestId)}::text[],
                         ${rows.map((r) => r.variant ?? null)}::text[])`
    .then(() => {})
    .catch((err) => log("error", { event: "invocation-not-recorded", error: String(err) }));
}
