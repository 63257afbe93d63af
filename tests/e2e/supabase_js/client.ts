/**
 * Calls a deployed function the way a browser or server app does, through Supabase's own
 * client (`functions.invoke`), once per case, and prints what each got as one JSON line:
 * run by tests/e2e/test_gateway_parity.py. Input (environment): SUPABASE_URL, FUNCTION, and
 * CASES, a JSON list of {name, key, token?} (`key`: the client's API key, `token`: a user's
 * access token sent as the bearer, as a signed-in client does).
 */
import { createClient, FunctionsHttpError } from "npm:@supabase/supabase-js@2.119.1";

interface Case {
  name: string;
  key: string;
  token?: string;
}

const url = Deno.env.get("SUPABASE_URL")!;
const fn = Deno.env.get("FUNCTION")!;
const cases: Case[] = JSON.parse(Deno.env.get("CASES")!);
const results: Record<string, unknown>[] = [];
for (const c of cases) {
  const client = createClient(url, c.key, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: c.token ? { Authorization: `Bearer ${c.token}` } : {} },
  });
  const { data, error } = await client.functions.invoke(fn, { method: "GET" });
  if (error instanceof FunctionsHttpError) {
    const response = error.context as Response;
    results.push({ name: c.name, status: response.status, body: await response.json() });
  } else if (error) {
    results.push({ name: c.name, status: null, body: String(error) });
  } else {
    results.push({ name: c.name, status: 200, body: data });
  }
}
console.log(JSON.stringify(results));
