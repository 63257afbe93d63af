/**
 * Quotes for the signed-in user (the guide's `quote-processor`), priced in SQL from the prices
 * the webhook pipeline keeps from Stripe (no Stripe call on the way):
 *
 * - POST {items: [{price, quantity, description?}]} with an Idempotency-Key header: a quote,
 *   valid for 30 days (201; the same key again: the same quote, 200).
 * - POST {accept: <quote id>}: pay it. A Stripe PaymentIntent for the total (Stripe's
 *   idempotency key is the quote's id, so a retry gets the same one), and the quote accepted
 *   with it; answers its client secret. Expired: 409.
 * - GET ?id=<quote id>: one quote; GET: the caller's 50 newest.
 *
 * Absent and someone else's quote are one 404.
 */
import { db, HttpError, idempotencyKey, json, log, readJson, serve } from "../../_shared/mod.ts";
import { type Stripe, stripe } from "../../_shared/stripe.ts";
import { ownQuote, type Quote, quoteError } from "../_lib/quotes.ts";
import { guarded } from "../_lib/guard.ts";

async function create(req: Request, owner: string, items: unknown): Promise<Response> {
  const key = idempotencyKey(req);
  try {
    const [row] = await db()<{ quote: Quote & { replayed: boolean } }[]>`
      select billing.create_quote(${owner}::uuid, ${key},
                                  ${JSON.stringify(items ?? null)}::text::jsonb) as quote`;
    const { replayed, ...quote } = row.quote;
    return json(replayed ? 200 : 201, quote);
  } catch (err) {
    throw quoteError(err);
  }
}

async function accept(id: unknown, owner: string): Promise<Response> {
  const quote = await ownQuote(id, owner);
  if (quote.status === "expired") {
    throw new HttpError(409, "CONFLICT", `The quote expired at ${quote.validUntil}`);
  }
  let intent: Stripe.PaymentIntent;
  try {
    intent = await stripe().paymentIntents.create(
      {
        amount: quote.total,
        currency: quote.currency,
        metadata: { quote_id: quote.id, user_id: owner },
      },
      { idempotencyKey: `quote-${quote.id}` },
    );
  } catch (err) {
    if (err instanceof HttpError) throw err;
    log("error", { event: "stripe_unreachable", error: String(err) });
    throw new HttpError(503, "PAYMENT_UNAVAILABLE", "Payments are unavailable; try again");
  }
  try {
    const [row] = await db()<{ quote: Quote }[]>`
      select billing.accept_quote(${quote.id}::uuid, ${owner}::uuid, ${intent.id}) as quote`;
    return json(200, { ...row.quote, clientSecret: intent.client_secret });
  } catch (err) {
    throw quoteError(err);
  }
}

serve(
  import.meta.url,
  { callers: ["user"] },
  guarded(async (req, ctx) => {
    const owner = ctx.caller.userId!;
    if (req.method === "GET") {
      const id = new URL(req.url).searchParams.get("id");
      if (id !== null) return json(200, await ownQuote(id, owner));
      const rows = await db()<{ quote: Quote }[]>`
      select billing.quote_json(id, user_id) as quote from billing.quotes
       where user_id = ${owner}::uuid order by created_at desc limit 50`;
      return json(200, { quotes: rows.map((r) => r.quote) });
    }
    if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET or POST");
    const body = await readJson(req);
    if ("accept" in body) return accept(body.accept, owner);
    return create(req, owner, body.items);
  }),
);
