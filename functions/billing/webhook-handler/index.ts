/**
 * Stripe's webhook endpoint (the guide's `webhook-handler`). The `Stripe-Signature` header is
 * verified with STRIPE_WEBHOOK_SECRET by Stripe's own SDK, with its 5-minute tolerance (an
 * older signature is a replay): anything else is 400 and stores nothing. A verified event is
 * recorded once by id and its job queued in the same transaction (billing.receive_event); the
 * work itself is the batch processor's, so Stripe gets its 2xx at once. A delivery Stripe
 * repeats answers 200 `{duplicate: true}` and changes nothing.
 */
import { db, HttpError, json, serve } from "../../_shared/mod.ts";
import { verifiedEvent } from "../../_shared/stripe.ts";

serve(import.meta.url, { callers: ["anon"] }, async (req) => {
  if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use POST");
  const { event, payload } = await verifiedEvent(req);
  const [row] = await db()`
    select billing.receive_event(${payload}::text::jsonb) as queued`;
  return json(200, { received: true, eventId: event.id, duplicate: !row.queued });
});
