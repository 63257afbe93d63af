/**
 * The runtime's configuration: one JSON file written by `supastack local up` (mode 0600).
 *
 * The Management API access token and the JWT secret are read from this file and never put in
 * the process environment, because functions share that environment and must not see them.
 */
import type { JsonWebKeySet } from "./jwt.ts";

export interface RuntimeConfig {
  /** TCP port on 127.0.0.1 (Supabase local uses 54321). */
  port: number;
  /** Directory holding deployed function versions, secrets and logs. */
  stateDir: string;
  /** Project ref accepted on /v1/projects/{ref}/... */
  projectRef: string;
  /** Bearer token the Management API subset requires. */
  accessToken: string;
  /** The legacy HS256 secret: signs the anon and service_role keys (and older user JWTs). */
  jwtSecret: string;
  /** The public signing keys users' JWTs are verified with (ES256), served as the JWKS. */
  jwks: JsonWebKeySet;
  /** How long a function may take to start its response before the gateway answers 504
   * (Supabase's request idle timeout: 150 s). */
  requestIdleTimeoutMs?: number;
  /** Environment injected into every function (SUPABASE_URL, keys, SUPABASE_DB_URL). */
  functionEnv: Record<string, string>;
}

export async function loadConfig(path: string): Promise<RuntimeConfig> {
  const raw = JSON.parse(await Deno.readTextFile(path));
  const required = ["port", "stateDir", "projectRef", "accessToken", "jwtSecret", "jwks"];
  for (const key of [...required, "functionEnv"]) {
    if (!(key in raw)) throw new Error(`${path}: missing key ${key}`);
  }
  return raw as RuntimeConfig;
}
