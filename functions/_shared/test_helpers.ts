/**
 * What the middleware's Deno tests share: a caller's token (its signature is the gateway's
 * business), a function directory with its deployed config, a call, the background work
 * collected and awaited, and the invocation rows of a request. Imported by tests only, so it
 * is never packaged with a function.
 */
import { db } from "./db.ts";

export function token(claims: Record<string, unknown>): string {
  const enc = (v: unknown) => btoa(JSON.stringify(v)).replace(/=+$/, "");
  return `${enc({ alg: "HS256", typ: "JWT" })}.${enc(claims)}.signature-checked-by-the-gateway`;
}

export const USER = "7d0f4f2e-8a53-4a56-9a40-3c1c5d3f0b1e";
export const userHeaders = {
  authorization: `Bearer ${token({ role: "authenticated", sub: USER })}`,
};

/** A function directory with its deployed config, as packaging writes it. */
export async function functionWith(config: Record<string, unknown>): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/function.config.json`, JSON.stringify(config));
  return `file://${dir}/index.ts`;
}

export async function call(
  handler: (req: Request) => Promise<Response>,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await handler(new Request("http://fn.local/", { method: "POST", ...init }));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

const pending: Promise<void>[] = [];
export const collect = (work: Promise<void>) => pending.push(work);
export const settled = () => Promise.all(pending.splice(0));

export async function invocations(requestId: string): Promise<Record<string, unknown>[]> {
  return [
    ...await db()`
    select function_name, status, error_class, variant from monitoring.function_invocations
    where request_id = ${requestId}`,
  ];
}
