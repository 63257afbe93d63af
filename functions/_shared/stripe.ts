/**
 * Stripe's official SDK, with its API base configurable (STRIPE_API_BASE, unset: Stripe's own)
 * so tests and the local stack talk to a local server answering the endpoints used.
 */
import { createHash, createHmac } from "node:crypto";
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

/**
 * The HMAC behind Stripe's signature check, from node:crypto: it runs in this thread, where
 * the SDK's provider for non-Node platforms (WebCrypto) hops to another thread and back for
 * each delivery (about half the time of a verification, measured). Stripe's SDK still parses
 * the header, checks the tolerance and compares the signatures.
 */
const hmac = (payload: string, key: string) =>
  createHmac("sha256", key).update(payload, "utf8").digest("hex");
const cryptoProvider = {
  computeHMACSignature: hmac,
  computeHMACSignatureAsync: (payload: string, key: string) => Promise.resolve(hmac(payload, key)),
  computeSHA256Async: (data: Uint8Array) =>
    Promise.resolve(new Uint8Array(createHash("sha256").update(data).digest())),
} as unknown as Stripe.CryptoProvider;

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
