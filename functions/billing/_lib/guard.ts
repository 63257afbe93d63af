/**
 * The guide's rate limiting and threat detection for the billing functions customers call
 * (`guarded(handler)`), configured by billing.security_settings:
 *
 * - every request of a caller (`user:<id>`, else `ip:<address>`) takes a token from a bucket
 *   of 200 refilling at 100 a minute; past it, the caller is blocked for 300 s (429 with
 *   Retry-After) and one incident is recorded. A block is read on every request
 *   (billing.admission), so it stops the caller on every instance at once. The token is taken
 *   as the middleware's limits take theirs (functions/_shared/ratelimit.ts: against the shared
 *   bucket as this instance last read it, settled in batches, no write per request); a request
 *   that finds no token there asks billing.admit, which takes one exactly or blocks. Several
 *   instances together may admit past the bucket what they let through while each other's
 *   debits were unsettled (about 0.1 s of requests); the caller pays them back from the next
 *   ones, or is blocked;
 * - the query string and every string of a JSON body are matched against the enabled
 *   injection rules; a match is refused (400), recorded as a critical incident naming the
 *   field and rule (never the value) and blocks the caller.
 *
 * The rules are a tripwire, not the defence: every query the functions run binds its values
 * as parameters, so an injected string is data. They catch a caller probing, and block it.
 */
import {
  admittedHere,
  callerKey,
  db,
  type Handler,
  HttpError,
  type RateLimit,
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

const EVERY_RULE: Readonly<Record<Category, true>> = {
  sqlInjectionDetection: true,
  xssDetection: true,
  commandInjectionDetection: true,
};

interface Admission {
  blocked_for: number;
  detection: Record<string, unknown> | null;
  limits: { burstLimit?: unknown; requestsPerMinute?: unknown } | null;
}

/** The bucket billing.security_settings' `rate_limiting` configures (as billing.admit reads it). */
function bucketOf(limits: Admission["limits"]): RateLimit {
  const burst = Number(limits?.burstLimit);
  const perMinute = Number(limits?.requestsPerMinute);
  if (!(burst >= 1 && perMinute > 0)) {
    throw new Error(
      "billing.security_settings rate_limiting/global_settings: burstLimit (>= 1) and " +
        "requestsPerMinute (> 0) are required",
    );
  }
  // capacity `burst`, refilled at perMinute / 60 a second
  return { requests: burst, perSeconds: (burst * 60) / perMinute };
}

/** The 429 for a caller blocked for `seconds` more. */
function blocked(seconds: number, limits: Admission["limits"]): RateLimited {
  return new RateLimited(Math.ceil(seconds), {
    requests: Number(limits?.requestsPerMinute),
    perSeconds: 60,
  });
}

export function guarded(handler: Handler): Handler {
  return async (req, ctx) => {
    const name = ctx.config.name;
    const subject = callerKey(req, ctx.caller);
    // read only: the block, the settings (the telemetry pool, as the token's settlement)
    const [admission] = await telemetry()<Admission[]>`
      select blocked_for, detection, limits from billing.admission(${subject})`;
    if (admission.blocked_for > 0) throw blocked(admission.blocked_for, admission.limits);
    if (!(await admittedHere("billing", subject, bucketOf(admission.limits)))) {
      // no token as this instance knows the bucket: the database decides, and blocks
      // (billing.block makes its own transaction's commit wait for the disk)
      const [exact] = await telemetry()<{ wait: number }[]>`
        select wait from billing.admit(${subject}, ${name})`;
      if (exact.wait > 0) throw blocked(exact.wait, admission.limits);
    }
    const found = inspect(
      new URL(req.url).searchParams,
      await jsonBody(req),
      admission.detection ?? EVERY_RULE, // no settings row: every rule applies
    );
    if (found) {
      await db()`
        select billing.block(${subject}, ${name}, 'injection_attempt', 'critical',
                             'immediate_block', ${JSON.stringify(found)}::text::jsonb)`;
      throw new HttpError(400, "REQUEST_REFUSED", `${found.field}: refused (${found.rule})`);
    }
    return handler(req, ctx);
  };
}
