/**
 * The runtime's configuration: one JSON file written by `supastack local up` (mode 0600).
 *
 * The Management API access token and the JWT secret are read from this file and never put in
 * the process environment, because functions share that environment and must not see them.
 */
export interface RuntimeConfig {
  /** TCP port on 127.0.0.1 (Supabase local uses 54321). */
  port: number;
  /** Directory holding deployed function versions, secrets and logs. */
  stateDir: string;
  /** Project ref accepted on /v1/projects/{ref}/... */
  projectRef: string;
  /** Bearer token the Management API subset requires. */
  accessToken: string;
  /** HS256 secret that signs the anon and service_role keys and user JWTs. */
  jwtSecret: string;
  /** Environment injected into every function (SUPABASE_URL, keys, SUPABASE_DB_URL). */
  functionEnv: Record<string, string>;
}

export async function loadConfig(path: string): Promise<RuntimeConfig> {
  const raw = JSON.parse(await Deno.readTextFile(path));
  for (const key of ["port", "stateDir", "projectRef", "accessToken", "jwtSecret", "functionEnv"]) {
    if (!(key in raw)) throw new Error(`${path}: missing key ${key}`);
  }
  return raw as RuntimeConfig;
}
