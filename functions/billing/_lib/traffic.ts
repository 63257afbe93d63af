/**
 * Traffic migrations of the billing functions: a caller takes the new path when the flag is
 * on for them (its percentage is stack configuration, stepped by `supastack rollout`) and no
 * operator halted the migration (billing.traffic_halts, set by migration-controller's
 * execute_rollback). Halts are read at most every FLAG_CACHE_MS, like the flags, so a halt
 * reaches every instance within 5 s; when they cannot be read, every migration counts as
 * halted: the old path is the one that was known to work.
 */
import { db, flag } from "../../_shared/mod.ts";
import { cachedRead } from "../../_shared/cached.ts";
import { FLAG_CACHE_MS } from "../../_shared/flags.ts";

export const SUBSCRIPTION_CACHE = "billing_subscription_cache";

/** What the halts are when they cannot be read: every migration halted. */
const UNREADABLE = new Set<string>();

const halts = cachedRead(
  "traffic_halts",
  async () =>
    new Set(
      (await db()<{ flag: string }[]>`select flag from billing.traffic_halts`).map((r) => r.flag),
    ),
  FLAG_CACHE_MS,
  () => UNREADABLE,
);

export async function newPath(name: string, subject: string): Promise<boolean> {
  if (!(await flag(name, subject))) return false;
  const halted = await halts();
  return halted !== UNREADABLE && !halted.has(name);
}
