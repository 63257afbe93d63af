/**
 * Feature flags for functions: `await flag(name, subject)`, answered as
 * `monitoring.flag_enabled(name, subject)` answers in SQL (docs/flags-and-rollouts.md).
 *
 * A subject's bucket is the first four bytes of SHA-256("<flag>:<subject>") as an unsigned
 * integer, modulo 10000; it is in at percentage p when its bucket is below p * 100, so it stays
 * in as p grows. Allow-listed subjects are in whenever the flag is enabled; a disabled or
 * unknown flag is off for everyone.
 *
 * Each function instance reads all flags in one query and keeps them for at most
 * `FLAG_CACHE_MS` (5 s); concurrent callers share one read. A change reaches every instance
 * within 5 s of its deploy. When the read fails the flags answer off (and the failure is
 * logged): a flag never stays on past its cache because the database went away.
 */
import { createHash } from "node:crypto";
import { db } from "./db.ts";
import { cachedRead } from "./cached.ts";

export const FLAG_CACHE_MS = 5_000;

export interface FlagState {
  enabled: boolean;
  percentage: number;
  allow: readonly string[];
}

export type FlagTable = ReadonlyMap<string, FlagState>;

/** The subject's bucket for the flag, 0..9999 (as `monitoring.flag_bucket`). */
export function bucket(flag: string, subject: string): number {
  // node:crypto hashes in this thread (WebCrypto's digest is a hop to another and back)
  return createHash("sha256").update(`${flag}:${subject}`).digest().readUInt32BE(0) % 10_000;
}

/** Whether the flag, in this state, is on for the subject (as `monitoring.flag_enabled`). */
export function decide(
  flag: string,
  state: FlagState | undefined,
  subject: string | null | undefined,
): boolean {
  if (!state?.enabled) return false;
  if (state.percentage >= 100) return true;
  if (subject == null) return false;
  if (state.allow.includes(subject)) return true;
  return bucket(flag, subject) < Math.round(state.percentage * 100);
}

async function readFlags(): Promise<FlagTable> {
  const rows = await db()<
    { name: string; enabled: boolean; percentage: string; allow: string[] }[]
  >`
    select name, enabled, percentage::text, allow from monitoring.feature_flags`;
  return new Map(rows.map((r) => [r.name, {
    enabled: r.enabled,
    percentage: Number(r.percentage),
    allow: r.allow,
  }]));
}

/** The flags as of at most FLAG_CACHE_MS ago; empty (all off) when they cannot be read. */
const flags = cachedRead("flags", readFlags, FLAG_CACHE_MS, () => new Map() as FlagTable);

/** Whether the flag is on for the subject (a user id, an organization id). */
export async function flag(name: string, subject: string | null | undefined): Promise<boolean> {
  return decide(name, (await flags()).get(name), subject);
}
