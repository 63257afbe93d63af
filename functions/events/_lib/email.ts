/**
 * Booking e-mails through the e-mail provider's HTTP API (ESP_API_URL, unset: Resend's;
 * ESP_API_KEY), sent after the response. A failure is logged, never the caller's problem.
 */
import { log } from "../../_shared/mod.ts";

export async function sendEmail(to: string, subject: string, text: string): Promise<void> {
  const key = Deno.env.get("ESP_API_KEY");
  if (!key) return;
  const base = Deno.env.get("ESP_API_URL") ?? "https://api.resend.com";
  try {
    const answer = await fetch(`${base}/emails`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ from: "bookings@supastack.invalid", to: [to], subject, text }),
      signal: AbortSignal.timeout(10_000),
    });
    await answer.body?.cancel();
    if (!answer.ok) log("error", { event: "email_failed", status: answer.status });
  } catch (err) {
    log("error", { event: "email_failed", error: String(err) });
  }
}
