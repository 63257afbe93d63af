/**
 * Stripe's webhook. The `Stripe-Signature` header is verified with STRIPE_WEBHOOK_SECRET by
 * Stripe's own SDK, with its timestamp tolerance (a signature older than 5 minutes is a
 * replay): anything else is 400 and changes nothing. Each Stripe event id is applied once
 * (events.apply_stripe_event records it with its effect); a replayed id answers 200 so Stripe
 * stops retrying. PaymentIntent success confirms the registration, failure releases its seat.
 */
import { db, json, serve } from "../../_shared/mod.ts";
import { verifiedEvent } from "../../_shared/stripe.ts";

const HANDLED = ["payment_intent.succeeded", "payment_intent.payment_failed"];

serve(import.meta.url, { callers: ["anon"] }, async (req) => {
  const { event } = await verifiedEvent(req);
  const intent = HANDLED.includes(event.type)
    ? (event.data.object as { id?: string }).id ?? null
    : null;
  const [row] = await db()`
    select events.apply_stripe_event(${event.id}, ${event.type}, ${intent}) as outcome`;
  return json(200, { received: true, outcome: row.outcome });
});
