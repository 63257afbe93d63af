/**
 * Stripe's official SDK, with its API base configurable (STRIPE_API_BASE, unset: Stripe's own)
 * so tests and the local stack talk to a local server answering the endpoints used.
 */
import Stripe from "npm:stripe@17.7.0";
import { HttpError } from "../../_shared/mod.ts";

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

export function webhookSecret(): string {
  return secret("STRIPE_WEBHOOK_SECRET");
}

/** Stripe's default: a signature older than five minutes is a replay. */
export const SIGNATURE_TOLERANCE_S = 300;

export const cryptoProvider = Stripe.createSubtleCryptoProvider();
