/**
 * Booking e-mails through Resend's official SDK, as the billing app's quotes: the project's one
 * RESEND_API_KEY (function secrets are project-wide on Supabase), the sender EMAIL_FROM, and
 * the API base RESEND_BASE_URL, which the SDK reads itself (unset: Resend's own), so tests and
 * the local stack talk to a local server. Sent after the response, once per idempotency key
 * (Resend keeps them 24 h); a failure is logged, never the caller's problem.
 */
import { Resend } from "npm:resend@6.38.0";
import { log } from "../../_shared/mod.ts";

let client: Resend | undefined;

export async function sendEmail(
  to: string,
  subject: string,
  text: string,
  idempotencyKey: string,
): Promise<void> {
  const key = Deno.env.get("RESEND_API_KEY");
  if (!key) return;
  client ??= new Resend(key);
  const from = Deno.env.get("EMAIL_FROM") ?? "bookings@supastack.invalid";
  try {
    const { error } = await client.emails.send({ from, to: [to], subject, text }, {
      idempotencyKey,
    });
    if (error) log("error", { event: "email_failed", error: error.name });
  } catch (err) {
    log("error", { event: "email_failed", error: String(err) });
  }
}
