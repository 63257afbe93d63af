/**
 * The guide's rate limiting and threat detection for the billing functions customers call
 * (`guarded(handler)`), configured by billing.security_settings:
 *
 * - every request of a caller (`user:<id>`, else `ip:<address>`) takes a token from a bucket
 *   of 200 refilling at 100 a minute (billing.admit); past it, the caller is blocked for
 *   300 s (429 with Retry-After) and one incident is recorded;
 * - the query string and every string of a JSON body are matched against the enabled
 *   injection rules; a match is refused (400), recorded as a critical incident naming the
 *   field and rule (never the value) and blocks the caller.
 *
 * The rules are a tripwire, not the defence: every query the functions run binds its values
 * as parameters, so an injected string is data. They catch a caller probing, and block it.
 */
import {
  callerKey,
  db,
  type Handler,
  HttpError,
  RateLimited,
  telemetry,
} from "../../_shared/mod.ts";

type Category = "sqlInjectionDetection" | "xssDetection" | "commandInjectionDetection";

const RULES: ReadonlyArray<{ name: string; category: Category; pattern: RegExp }> = [
  {
    name: "sql-union-select",
    category: "sqlInjectionDetection",
    pattern: /\bunion\s+(all\s+)?select\b/i,
  },
  {
    name: "sql-tautology",
    category: "sqlInjectionDetection",
    pattern: /['"]\s*(or|and)\s+['"]?\w+['"]?\s*=\s*['"]?\w+/i,
  },
  {
    name: "sql-stacked-statement",
    category: "sqlInjectionDetection",
    pattern: /;\s*(drop|delete|truncate|alter|insert|update|grant|create)\s/i,
  },
  {
    name: "sql-comment-after-quote",
    category: "sqlInjectionDetection",
    pattern: /['"]\s*(--|#|\/\*)/,
  },
  { name: "xss-script-tag", category: "xssDetection", pattern: /<\s*script\b/i },
  { name: "xss-javascript-url", category: "xssDetection", pattern: /\bjavascript\s*:/i },
  { name: "xss-event-handler", category: "xssDetection", pattern: /<[^>]*\son[a-z]+\s*=/i },
  {
    name: "command-chained",
    category: "commandInjectionDetection",
    pattern: /(;|&&|\|\|?)\s*(rm|curl|wget|sh|bash|nc|cat|chmod|python|perl)\b/,
  },
  {
    name: "command-substitution",
    category: "commandInjectionDetection",
    pattern: /\$\([^)]*\)|`[^`]*`/,
  },
];

export interface Finding {
  field: string;
  rule: string;
}

/** The first rule an input breaks: the query parameters, then the body's strings in order. */
export function inspect(
  query: URLSearchParams,
  body: unknown,
  enabled: Readonly<Record<string, unknown>>,
): Finding | undefined {
  const rules = RULES.filter((r) => enabled[r.category] === true);
  const check = (field: string, value: string) => {
    const rule = rules.find((r) => r.pattern.test(value));
    return rule ? { field, rule: rule.name } : undefined;
  };
  for (const [name, value] of query) {
    const found = check(`?${name}`, value);
    if (found) return found;
  }
  const walk = (value: unknown, path: string): Finding | undefined => {
    if (typeof value === "string") return check(path || "body", value);
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) {
        const found = walk(item, `${path}[${i}]`);
        if (found) return found;
      }
    } else if (value && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        // a key that breaks a rule is named by where it is, never by itself (it is the probe)
        const found = check(`${path || "body"} (a key)`, key) ??
          walk(item, path ? `${path}.${key}` : key);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(body, "");
}

async function jsonBody(req: Request): Promise<unknown> {
  if (req.method === "GET" || !req.body) return undefined;
  try {
    return JSON.parse(await req.clone().text());
  } catch {
    return undefined; // not JSON: the handler answers it
  }
}

export function guarded(handler: Handler): Handler {
  return async (req, ctx) => {
    const name = ctx.config.name;
    const subject = callerKey(req, ctx.caller);
    // the token taken on the telemetry pool (its commit does not wait for the disk, as the
    // middleware's limits do not); a block the admission records is durable all the same
    // (billing.block makes its own transaction's commit wait)
    const [admitted] = await telemetry()<{ wait: number; detection: Record<string, unknown> }[]>`
      select wait, detection from billing.admit(${subject}, ${name})`;
    if (admitted.wait > 0) {
      throw new RateLimited(Math.ceil(admitted.wait), { requests: 100, perSeconds: 60 });
    }
    const found = inspect(new URL(req.url).searchParams, await jsonBody(req), admitted.detection);
    if (found) {
      await db()`
        select billing.block(${subject}, ${name}, 'injection_attempt', 'critical',
                             'immediate_block', ${JSON.stringify(found)}::text::jsonb)`;
      throw new HttpError(400, "REQUEST_REFUSED", `${found.field}: refused (${found.rule})`);
    }
    return handler(req, ctx);
  };
}
