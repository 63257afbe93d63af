/**
 * One `monitoring.function_invocations` row per invocation, a log line for a failed one, and
 * every invocation's line to the log drains (see `record`). The row is written after the
 * response is handed back, so it never delays a caller; a failed write is logged, not thrown.
 * Rows are written in batches (every 100 ms, or at 100 rows): one insert for many requests,
 * which under load is most of the database work the middleware adds to a request (measured in
 * bench/events.py). A batch whose write fails (the database restarting) is held and written
 * again every second until it goes through, each row dated when its invocation ended; an
 * instance holds at most HELD_ROWS (past that the oldest are dropped, and how many is logged).
 * What is lost: rows held or not yet written when the instance itself stops.
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

/** A row to write: the invocation and when it ended (epoch ms). */
interface Row extends Invocation {
  at: number;
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
/** How often held rows are tried again, and how many an instance holds at most. */
const RETRY_MS = 1000;
const HELD_ROWS = 10_000;

interface Batch {
  rows: Row[];
  /** Write now (the batch is full) rather than when its wait is over. */
  flush: () => void;
  written: Promise<void>;
}

let open: Batch | undefined;
/** Rows whose write failed, oldest first; and the loop writing them again, while it runs. */
let held: Row[] = [];
let retrying: Promise<void> | undefined;

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
 * Queue the invocation's row, and log it where no one else does; resolves once the row is
 * written (a held one too: the platform keeps an instance while it has rows to write). The
 * platform logs every invocation itself (its status and duration: Supabase's function logs;
 * locally the runtime's functions.jsonl) and the row keeps the request id, error class and
 * variant, so only a failed one (5xx) is written to the console, with its error class; the
 * drains get every invocation's line. A console line per request was half of the
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
  batch.rows.push({ ...invocation, at: Date.now() });
  if (batch.rows.length >= BATCH_ROWS) batch.flush();
  return batch.written;
}

/** One insert for the batch's rows (rows arriving from now on open the next batch); rows it
 * could not write are held, and it resolves once they are written (or dropped). */
function write(batch: Batch): Promise<void> {
  if (open === batch) open = undefined;
  return insert(batch.rows).then((failed) => {
    if (failed) return hold(batch.rows, failed);
  });
}

/** Insert the rows, each dated by the database's clock less its age (a held row keeps the
 * time it ended); the error if that failed (never rejects). */
function insert(rows: Row[]): Promise<string | undefined> {
  const sent = Date.now();
  return telemetry()`
    insert into monitoring.function_invocations
      (function_name, status, duration_ms, error_class, request_id, variant, invoked_at)
    select f, s, d, e, r, v, now() - a * interval '1 millisecond'
      from unnest(${rows.map((r) => r.function)}::text[],
                  ${rows.map((r) => r.status)}::int[],
                  ${rows.map((r) => r.durationMs)}::float8[],
                  ${rows.map((r) => r.errorClass ?? null)}::text[],
                  ${rows.map((r) => r.requestId)}::text[],
                  ${rows.map((r) => r.variant ?? null)}::text[],
                  ${rows.map((r) => sent - r.at)}::float8[]) as t(f, s, d, e, r, v, a)`
    .then(() => undefined, (err) => String(err));
}

/** Hold rows whose write failed (`older` ones before those held already), keeping the newest
 * HELD_ROWS, and write them again every RETRY_MS until none are left. */
function hold(rows: Row[], error: string, older = false): Promise<void> {
  held = older ? [...rows, ...held] : [...held, ...rows];
  const dropped = Math.max(0, held.length - HELD_ROWS);
  if (dropped > 0) held = held.slice(dropped);
  log("error", { event: "invocations-held", held: held.length, dropped, error });
  retrying ??= retry();
  return retrying;
}

async function retry(): Promise<void> {
  while (held.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    const rows = held;
    held = [];
    const failed = await insert(rows);
    if (failed) void hold(rows, failed, true);
  }
  retrying = undefined; // in the same turn as the last check: rows held after it start anew
}
