/**
 * A quote as a PDF (jsPDF: a maintained, dependency-light PDF writer that runs in Deno and on
 * Supabase's edge runtime). Amounts are printed in the currency's own minor units (Intl knows
 * that JPY has none). jsPDF's built-in fonts cover Latin-1; other scripts need an embedded
 * font (docs/apps/billing.md).
 */
import { jsPDF } from "npm:jspdf@4.2.1";
import type { Quote } from "./quotes.ts";

function money(minor: number, currency: string): string {
  const format = new Intl.NumberFormat("en-US", { style: "currency", currency });
  return format.format(minor / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

export function quotePdf(quote: Quote): Uint8Array<ArrayBuffer> {
  const doc = new jsPDF({ unit: "pt", format: "a4" });
  const left = 48;
  let y = 64;
  doc.setFontSize(20).text(`Quote ${quote.number}`, left, y);
  y += 24;
  doc.setFontSize(10)
    .text(
      `Issued ${quote.createdAt.slice(0, 10)}, valid until ${quote.validUntil.slice(0, 10)}`,
      left,
      y,
    );
  y += 32;
  doc.setFont("helvetica", "bold");
  doc.text("Item", left, y).text("Qty", 340, y).text("Unit", 400, y).text("Amount", 480, y);
  doc.setFont("helvetica", "normal");
  for (const item of quote.items) {
    y += 18;
    if (y > 780) {
      doc.addPage();
      y = 64;
    }
    doc.text(doc.splitTextToSize(item.description, 280)[0], left, y)
      .text(String(item.quantity), 340, y)
      .text(money(item.unitAmount, quote.currency), 400, y)
      .text(money(item.amount, quote.currency), 480, y);
  }
  y += 28;
  doc.setFont("helvetica", "bold").text(`Total ${money(quote.total, quote.currency)}`, 400, y);
  return new Uint8Array(doc.output("arraybuffer"));
}
