/** What the quote functions share: the quote as its owner sees it, and the SQL errors. */
import { db, HttpError, sqlStateErrors } from "../../_shared/mod.ts";

export const quoteError = sqlStateErrors({
  BQ404: [404, "NOT_FOUND"],
  BQ409: [409, "CONFLICT"],
  BQ422: [422, "INVALID_INPUT"],
});

export interface QuoteItem {
  priceId: string;
  description: string;
  quantity: number;
  unitAmount: number;
  amount: number;
}

export interface Quote {
  id: string;
  number: string;
  currency: string;
  total: number;
  status: "open" | "accepted" | "expired";
  validUntil: string;
  createdAt: string;
  acceptedAt: string | null;
  paymentIntentId: string | null;
  items: QuoteItem[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The owner's quote; absent and someone else's are one 404 (a malformed id too). */
export async function ownQuote(id: unknown, owner: string): Promise<Quote> {
  if (typeof id === "string" && UUID.test(id)) {
    const [row] = await db()<{ quote: Quote | null }[]>`
      select billing.quote_json(${id}::uuid, ${owner}::uuid) as quote`;
    if (row.quote) return row.quote;
  }
  throw new HttpError(404, "NOT_FOUND", "No such quote");
}
