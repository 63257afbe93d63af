/**
 * CORS from ALLOWED_ORIGINS (comma-separated origins, or `*`). An origin not listed gets no
 * Access-Control-Allow-Origin header, so the browser blocks the response; unset means no CORS.
 */

const ALLOWED_HEADERS =
  "authorization, x-client-info, apikey, content-type, x-job-secret, x-api-key, idempotency-key";

export function corsHeaders(req: Request): Record<string, string> {
  const allowed = (Deno.env.get("ALLOWED_ORIGINS") ?? "").split(",").map((o) => o.trim())
    .filter(Boolean);
  const origin = req.headers.get("origin");
  if (!origin || allowed.length === 0) return {};
  if (!allowed.includes("*") && !allowed.includes(origin)) return {};
  return {
    "access-control-allow-origin": allowed.includes("*") ? "*" : origin,
    "access-control-allow-headers": ALLOWED_HEADERS,
    "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "vary": "origin",
  };
}
