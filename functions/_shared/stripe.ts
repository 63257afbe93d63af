/**
 * Stripe's official SDK, with its API base configurable (STRIPE_API_BASE, unset: Stripe's own)
 * so tests and the local stack talk to a local server answering the endpoints used.
 */
import Stripe from "npm:stripe@17.7.0";
import { HttpError } from "./errors.ts";

export { Stripe };

function secret(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new HttpError(503, "NOT_CONFIGURED", `${name} is not set for this stack`);
  return value;
}

let client: Stripe | undefined;

export function stripe(): Stripe {
  if (client) return client;
  const base = Deno.env.get("STRIPE_API_BASE");
  const url = base ? new URL(base) : undefined;
  client = new Stripe(secret("STRIPE_SECRET_KEY"), {
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 1,
    timeout: 10_000,
    ...(url
      ? {
        host: url.hostname,
        port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
        protocol: url.protocol.replace(":", "") as "http" | "https",
      }
      : {}),
  });
  return client;
}

/** Stripe's default: a signature older than five minutes is a replay. */
const SIGNATURE_TOLERANCE_S = 300;

const cryptoProvider = Stripe.createSubtleCryptoProvider();

/**
 * The event of a webhook delivery, its `Stripe-Signature` verified with STRIPE_WEBHOOK_SECRET
 * by Stripe's SDK within the tolerance; 400 `BAD_SIGNATURE` for anything else. The raw payload
 * comes with it (what was signed, byte for byte).
 */
export async function verifiedEvent(
  req: Request,
): Promise<{ event: Stripe.Event; payload: string }> {
  const signature = req.headers.get("stripe-signature");
  if (!signature) throw new HttpError(400, "BAD_SIGNATURE", "Stripe-Signature header missing");
  const payload = await req.text();
  const key = secret("STRIPE_WEBHOOK_SECRET"); // unset: 503, as for the client below
  const client = stripe();
  try {
    const event = await client.webhooks.constructEventAsync(
      payload,
      signature,
      key,
      SIGNATURE_TOLERANCE_S,
      cryptoProvider,
    );
    return { event, payload };
  } catch {
    throw new HttpError(400, "BAD_SIGNATURE", "The Stripe-Signature does not verify");
  }
}
