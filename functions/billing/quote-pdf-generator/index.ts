/**
 * A quote of the signed-in user as a PDF (the guide's `quote-pdf-generator`):
 *
 * - GET ?id=<quote id>: the PDF (application/pdf).
 * - POST {quoteId, email: true}: the PDF e-mailed, through Resend, to the address of the
 *   caller's token (never an address from the body: the function cannot be made to mail
 *   anyone's quote to anyone). Recorded in billing.quote_emails; Resend's idempotency key is
 *   the request's Idempotency-Key (or a fresh one), so a retried request mails once.
 *
 * Absent and someone else's quote are one 404.
 */
import { db, HttpError, json, readJson, serve } from "../../_shared/mod.ts";
import { send } from "../_lib/email.ts";
import { quotePdf } from "../_lib/pdf.ts";
import { ownQuote } from "../_lib/quotes.ts";
import { guarded } from "../_lib/guard.ts";

serve(
  import.meta.url,
  { callers: ["user"] },
  guarded(async (req, ctx) => {
    const owner = ctx.caller.userId!;
    if (req.method === "GET") {
      const quote = await ownQuote(new URL(req.url).searchParams.get("id"), owner);
      return new Response(quotePdf(quote), {
        headers: {
          "content-type": "application/pdf",
          "content-disposition": `inline; filename="${quote.number}.pdf"`,
        },
      });
    }
    if (req.method !== "POST") throw new HttpError(405, "METHOD_NOT_ALLOWED", "Use GET or POST");
    const body = await readJson(req);
    if (body.email !== true) throw new HttpError(422, "INVALID_INPUT", "email: true to send it");
    const quote = await ownQuote(body.quoteId, owner);
    const to = ctx.caller.claims?.email;
    if (typeof to !== "string" || !to.includes("@")) {
      throw new HttpError(422, "NO_EMAIL", "Your account has no e-mail address to send it to");
    }
    const key = req.headers.get("idempotency-key")?.trim() || crypto.randomUUID();
    const id = await send(
      to,
      `Quote ${quote.number}`,
      `Your quote ${quote.number} is attached.`,
      [{ filename: `${quote.number}.pdf`, content: quotePdf(quote) }],
      `quote-${quote.id}-${key}`.slice(0, 256),
    );
    await db()`
    insert into billing.quote_emails (quote_id, provider_id) values (${quote.id}::uuid, ${id})
    on conflict (provider_id) do nothing`;
    return json(202, { sent: true, emailId: id });
  }),
);
