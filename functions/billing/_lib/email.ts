/**
 * E-mail through Resend's official SDK. Its API base is RESEND_BASE_URL, which the SDK reads
 * itself (unset: Resend's own), so tests and the local stack talk to a local server; the key
 * is the RESEND_API_KEY secret and the sender EMAIL_FROM.
 */
import { Buffer } from "node:buffer";
import { Resend } from "npm:resend@6.38.0";
import { HttpError, log } from "../../_shared/mod.ts";

export interface Attachment {
  filename: string;
  content: Uint8Array;
}

let client: Resend | undefined;

function resend(): Resend {
  const key = Deno.env.get("RESEND_API_KEY");
  if (!key) throw new HttpError(503, "NOT_CONFIGURED", "RESEND_API_KEY is not set for this stack");
  client ??= new Resend(key);
  return client;
}

/** Send, once per idempotency key (Resend keeps them 24 h); answers Resend's id. */
export async function send(
  to: string,
  subject: string,
  text: string,
  attachments: Attachment[],
  idempotencyKey: string,
): Promise<string> {
  const from = Deno.env.get("EMAIL_FROM") ?? "billing@supastack.invalid";
  const { data, error } = await resend().emails.send(
    {
      from,
      to: [to],
      subject,
      text,
      attachments: attachments.map((a) => ({
        filename: a.filename,
        content: Buffer.from(a.content).toString("base64"),
      })),
    },
    { idempotencyKey },
  );
  if (error || !data) {
    log("error", { event: "email_failed", error: error?.name ?? "no answer" });
    throw new HttpError(502, "EMAIL_FAILED", "The e-mail provider refused the message");
  }
  return data.id;
}
