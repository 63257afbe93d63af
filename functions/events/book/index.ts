/**
 * POST {eventId, paymentMethod: stripe | twint | none} with an `Idempotency-Key` header: book
 * a seat as the signed-in user (the JWT's `sub`; a `customerId` in the body must be that user).
 *
 * Confirmed while seats last, else waitlisted; the same key returns the same registration and
 * never books twice, also when retried at once (events.book locks the event, then looks the key
 * up). A paid event's registration is pending, holding its seat, until Stripe's webhook confirms
 * the PaymentIntent created here (Stripe's idempotency key is the registration's id, so a retry
 * gets the same PaymentIntent back).
 */
import {
  db,
  field,
  HttpError,
  idempotencyKey,
  inBackground,
  json,
  readJson,
  serve,
} from "../../_shared/mod.ts";
import { sendEmail } from "../_lib/email.ts";
import { eventsError } from "../_lib/errors.ts";
import { stripe } from "../../_shared/stripe.ts";

const METHODS = ["stripe", "twint", "none"];

interface Booked {
  registration_id: string;
  status: string;
  payment_status: string;
  amount_cents: number;
  currency: string;
  replayed: boolean;
}

serve(import.meta.url, { callers: ["user"] }, async (req, ctx) => {
  const key = idempotencyKey(req);
  const body = await readJson(req);
  const eventId = field.uuid(body, "eventId");
  const method = field.string(body, "paymentMethod", { max: 10 });
  if (!METHODS.includes(method)) {
    throw new HttpError(422, "INVALID_INPUT", "paymentMethod: one of stripe, twint, none");
  }
  const customerId = ctx.caller.userId!;
  if (body.customerId !== undefined && body.customerId !== customerId) {
    throw new HttpError(403, "FORBIDDEN", "customerId must be the signed-in user");
  }
  if (method === "twint" && !Deno.env.get("TWINT_API_KEY")) {
    throw new HttpError(422, "PAYMENT_METHOD_UNAVAILABLE", "twint is not available here");
  }
  let booked: Booked;
  try {
    [booked] = await db()<Booked[]>`
      select * from events.book(${eventId}, ${customerId}, ${key}, ${method})`;
  } catch (err) {
    throw eventsError(err);
  }
  const answer: Record<string, unknown> = {
    registrationId: booked.registration_id,
    status: booked.status,
    paymentStatus: booked.payment_status,
    replayed: booked.replayed,
  };
  if (booked.status === "pending" && method === "stripe") {
    answer.clientSecret = await paymentIntent(booked, customerId);
  }
  const email = ctx.caller.claims?.email;
  if (!booked.replayed && booked.status === "confirmed" && typeof email === "string") {
    inBackground(
      sendEmail(
        email,
        "Booking confirmed",
        `Your registration ${booked.registration_id} is confirmed.`,
        `booking-confirmed-${booked.registration_id}`,
      ),
    );
  }
  return json(booked.replayed ? 200 : 201, answer);
});

/** The PaymentIntent of a pending registration; if Stripe cannot be reached, the hold is
 * released at once (the seat goes back) and the caller is told to try again. */
async function paymentIntent(booked: Booked, customerId: string): Promise<string | null> {
  try {
    const intent = await stripe().paymentIntents.create(
      {
        amount: booked.amount_cents,
        currency: booked.currency,
        metadata: { registration_id: booked.registration_id },
        automatic_payment_methods: { enabled: true },
      },
      { idempotencyKey: booked.registration_id },
    );
    await db()`select events.attach_payment_intent(${booked.registration_id}, ${intent.id})`;
    return intent.client_secret;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    await db()`select * from events.cancel_registration(${booked.registration_id}, ${customerId})`;
    throw new HttpError(
      502,
      "PAYMENT_PROVIDER_ERROR",
      "The payment provider did not answer; nothing was booked, try again",
    );
  }
}
