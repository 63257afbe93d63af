/**
 * Project settings the Management API serves besides functions and secrets. For now the Data
 * API's (PostgREST) config at `/v1/projects/{ref}/postgrest`, with the fields and limits Supabase
 * documents; the local target has no PostgREST, so the values are only stored (in a file of the
 * state directory), which is what lets the supabase code path be tested against a real server.
 */
import { HttpError, KeyedMutex, writeAtomic } from "./http.ts";

export interface PostgrestConfig {
  db_schema: string;
  max_rows: number;
  db_extra_search_path: string;
  db_pool: number | null;
}

/** A new Supabase project's Data API settings. */
const DEFAULTS: PostgrestConfig = {
  db_schema: "public,graphql_public",
  max_rows: 1000,
  db_extra_search_path: "public,extensions",
  db_pool: null,
};

function checked(patch: unknown): Partial<PostgrestConfig> {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    throw new HttpError(400, "PostgREST config: expected an object");
  }
  const body = patch as Record<string, unknown>;
  const out: Partial<PostgrestConfig> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "db_schema" || key === "db_extra_search_path") {
      if (typeof value !== "string") {
        throw new HttpError(400, `PostgREST config: ${key} must be a string`);
      }
      out[key] = value;
    } else if (key === "max_rows") {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 1_000_000) {
        throw new HttpError(400, "PostgREST config: max_rows must be an integer 0-1000000");
      }
      out.max_rows = value as number;
    } else if (key === "db_pool") {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 1000) {
        throw new HttpError(400, "PostgREST config: db_pool must be an integer 0-1000");
      }
      out.db_pool = value as number;
    } else {
      throw new HttpError(400, `PostgREST config: unknown field '${key}'`);
    }
  }
  return out;
}

export class ProjectConfigStore {
  #path: string;
  #postgrest: PostgrestConfig;
  #mutex = new KeyedMutex();

  private constructor(path: string, postgrest: PostgrestConfig) {
    this.#path = path;
    this.#postgrest = postgrest;
  }

  static async open(stateDir: string): Promise<ProjectConfigStore> {
    const path = `${stateDir}/postgrest.json`;
    let stored: PostgrestConfig = DEFAULTS;
    try {
      stored = { ...DEFAULTS, ...JSON.parse(await Deno.readTextFile(path)) };
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return new ProjectConfigStore(path, stored);
  }

  postgrest(): PostgrestConfig {
    return { ...this.#postgrest };
  }

  updatePostgrest(patch: unknown): Promise<PostgrestConfig> {
    const changes = checked(patch);
    return this.#mutex.run("postgrest", async () => {
      this.#postgrest = { ...this.#postgrest, ...changes };
      await writeAtomic(this.#path, JSON.stringify(this.#postgrest));
      return this.postgrest();
    });
  }
}
