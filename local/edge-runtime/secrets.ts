/**
 * Function secrets: project-wide environment variables, as on Supabase. Values live in a 0600
 * file in the state directory; the API only ever returns their sha256 digests. Every change is
 * applied to the shared environment and bumps `generation`, so functions boot anew on their next
 * request and see the new values even if they read them at module load.
 */
import { HttpError, KeyedMutex, writeAtomic } from "./http.ts";

export const SECRET_NAME_MAX = 256;
export const SECRET_VALUE_MAX = 24576;

interface StoredSecret {
  value: string;
  updated_at: string;
}

export interface SecretDigest {
  name: string;
  value: string;
  updated_at: string;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function validateSecret(name: unknown, value: unknown): void {
  if (typeof name !== "string" || name.length === 0 || name.length > SECRET_NAME_MAX) {
    throw new HttpError(
      400,
      `Invalid secret name: must be a string of 1 to ${SECRET_NAME_MAX} characters`,
    );
  }
  if (name.startsWith("SUPABASE_")) {
    throw new HttpError(
      400,
      `Invalid secret name '${name}': must not start with the SUPABASE_ prefix`,
    );
  }
  if (typeof value !== "string" || value.length > SECRET_VALUE_MAX) {
    throw new HttpError(
      400,
      `Invalid value for secret '${name}': must be a string of at most ${SECRET_VALUE_MAX} characters`,
    );
  }
}

export class SecretStore {
  #path: string;
  #secrets: Record<string, StoredSecret>;
  #mutex = new KeyedMutex();
  generation = 0;

  private constructor(path: string, secrets: Record<string, StoredSecret>) {
    this.#path = path;
    this.#secrets = secrets;
    for (const [name, s] of Object.entries(secrets)) Deno.env.set(name, s.value);
  }

  static async open(stateDir: string): Promise<SecretStore> {
    const path = `${stateDir}/secrets.json`;
    let secrets: Record<string, StoredSecret> = {};
    try {
      secrets = JSON.parse(await Deno.readTextFile(path));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return new SecretStore(path, secrets);
  }

  async digests(): Promise<SecretDigest[]> {
    const out: SecretDigest[] = [];
    for (const [name, s] of Object.entries(this.#secrets).sort(([a], [b]) => a.localeCompare(b))) {
      out.push({ name, value: await sha256Hex(s.value), updated_at: s.updated_at });
    }
    return out;
  }

  upsert(entries: { name: string; value: string }[]): Promise<void> {
    for (const e of entries) validateSecret(e?.name, e?.value);
    return this.#mutex.run("file", async () => {
      const updatedAt = new Date().toISOString();
      const next = { ...this.#secrets };
      for (const e of entries) next[e.name] = { value: e.value, updated_at: updatedAt };
      await this.#commit(next, () => {
        for (const e of entries) Deno.env.set(e.name, e.value);
      });
    });
  }

  delete(names: string[]): Promise<void> {
    return this.#mutex.run("file", async () => {
      const next = { ...this.#secrets };
      for (const n of names) delete next[n];
      await this.#commit(next, () => {
        for (const n of names) Deno.env.delete(n);
      });
    });
  }

  /** Store `next`, then change the environment and bump the generation in one turn: whoever
   * sees the new generation (a function booting, the log's drains) sees the new values. */
  async #commit(next: Record<string, StoredSecret>, applyToEnv: () => void): Promise<void> {
    await writeAtomic(this.#path, JSON.stringify(next));
    this.#secrets = next;
    applyToEnv();
    this.generation++;
  }
}
