/**
 * GET: the signed-in user's subscription (the guide's `subscription-status`): status, price,
 * period end, whether it cancels at the period's end. The webhook pipeline keeps
 * billing.subscriptions current; a row older than CACHE_SECONDS is read again from Stripe
 * (its SDK) and stored, so every instance shares one brief cache. Stripe unreachable: the
 * stored row, marked `stale`. No subscription: `{status: "none"}`.
 *
 * The cache is being migrated onto (flag billing_subscription_cache, see migration-controller):
 * a caller on the old path has every request read from Stripe, as before the migration.
 */
import { db, HttpError, json, log, serve } from "../../_shared/mod.ts";
import { type Stripe, stripe } from "../../_shared/stripe.ts";
import { guarded } from "../_lib/guard.ts";
import { newPath, SUBSCRIPTION_CACHE } from "../_lib/traffic.ts";

const CACHE_SECONDS = 60;

interface Row {
  id: string;
  status: string;
  price_id: string | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  fresh: boolean;
}

function answer(row: Row, source: "cache" | "stripe", stale = false) {
  return json(200, {
    subscriptionId: row.id,
    status: row.status,
    priceId: row.price_id,
    currentPeriodEnd: row.current_period_end,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    source,
    ...(stale ? { stale: true } : {}),
  });
}

async function newest(user: string, maxAge = CACHE_SECONDS): Promise<Row | undefined> {
  const [row] = await db()<Row[]>`
    select id, status, price_id, current_period_end, cancel_at_period_end,
           updated_at > now() - make_interval(secs => ${maxAge}) as fresh
      from billing.subscriptions where user_id = ${user}
     order by status in ('active', 'trialing', 'past_due') desc, updated_at desc
     limit 1`;
  return row;
}

serve(
  import.meta.url,
  { callers: ["user"] },
  guarded(async (req, ctx) => {
    if (req.method !== "GET") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET");
    const user = ctx.caller.userId!;
    const cached = await newPath(SUBSCRIPTION_CACHE, user);
    ctx.variant = cached ? "new" : "old";
    const row = await newest(user, cached ? CACHE_SECONDS : 0);
    if (!row) return json(200, { status: "none" });
    if (row.fresh) return answer(row, "cache");
    let read: Stripe.Subscription;
    try {
      read = await stripe().subscriptions.retrieve(row.id);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      log("error", { event: "stripe_unreachable", error: String(err) });
      return answer(row, "cache", true);
    }
    await db()`
    select billing.store_subscription(${JSON.stringify(read)}::text::jsonb, now(),
                                      ${read.status === "canceled"})`;
    return answer((await newest(user))!, "stripe");
  }),
);
