/**
 * Deployed functions on disk. Every deploy becomes a new immutable version directory; the
 * newest version is served. A deploy is written to a temporary directory and renamed into
 * place, so a runtime killed mid-deploy leaves the previous version serving, never half a one.
 *
 *   <stateDir>/functions/<slug>/function.json          {id, slug, created_at}
 *   <stateDir>/functions/<slug>/versions/<n>/meta.json  FunctionVersion
 *   <stateDir>/functions/<slug>/versions/<n>/files/...  the uploaded sources
 */
import { HttpError, KeyedMutex, writeAtomic } from "./http.ts";

export const SLUG_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** Supabase rejects function bundles over 20 MB; so does the local runtime. */
export const MAX_DEPLOY_BYTES = 20 * 1024 * 1024;

/** The Management API's FunctionResponse, plus where the version's files live. */
export interface FunctionVersion {
  id: string;
  slug: string;
  name: string;
  status: "ACTIVE";
  version: number;
  verify_jwt: boolean;
  import_map: boolean;
  entrypoint_path: string;
  import_map_path?: string;
  ezbr_sha256: string;
  created_at: number;
  updated_at: number;
}

export interface DeployMetadata {
  entrypoint_path: string;
  import_map_path?: string;
  verify_jwt?: boolean;
  name?: string;
}

export interface UploadedFile {
  path: string;
  data: Uint8Array;
}

/** A relative POSIX path with no way out of the version directory. */
export function safeRelativePath(path: string, what: string): string {
  const clean = path.replace(/^\.\//, "");
  const parts = clean.split("/");
  if (
    clean.length === 0 || clean.startsWith("/") || clean.includes("\0") || clean.includes("\\") ||
    parts.some((p) => p === "" || p === "." || p === "..")
  ) {
    throw new HttpError(400, `${what} '${path}' must be a relative path inside the function`);
  }
  return clean;
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Content hash of a version: sha256 over the sorted (path, content) pairs. */
async function contentHash(files: UploadedFile[]): Promise<string> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    parts.push(encoder.encode(`${f.path}\0${f.data.length}\0`), f.data);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return await sha256Hex(all);
}

export class FunctionStore {
  #root: string;
  #current = new Map<string, FunctionVersion>();
  #mutex = new KeyedMutex();

  private constructor(root: string) {
    this.#root = root;
  }

  /** Open the store and index the newest version of every function on disk. */
  static async open(stateDir: string): Promise<FunctionStore> {
    const store = new FunctionStore(`${stateDir}/functions`);
    await Deno.mkdir(store.#root, { recursive: true });
    for await (const entry of Deno.readDir(store.#root)) {
      if (!entry.isDirectory) continue;
      const newest = await store.#newestVersion(entry.name);
      if (newest) store.#current.set(entry.name, newest);
    }
    return store;
  }

  list(): FunctionVersion[] {
    return [...this.#current.values()].sort((a, b) => a.slug.localeCompare(b.slug));
  }

  get(slug: string): FunctionVersion | undefined {
    return this.#current.get(slug);
  }

  /** Absolute path of the entrypoint of a version. */
  entrypoint(fn: FunctionVersion): string {
    return `${this.#versionDir(fn.slug, fn.version)}/files/${fn.entrypoint_path}`;
  }

  deploy(slug: string, meta: DeployMetadata, files: UploadedFile[]): Promise<FunctionVersion> {
    if (!SLUG_PATTERN.test(slug)) {
      throw new HttpError(
        400,
        `Invalid function slug '${slug}': must match ${SLUG_PATTERN.source}`,
      );
    }
    if (typeof meta.entrypoint_path !== "string") {
      throw new HttpError(400, `Function '${slug}': metadata.entrypoint_path is required`);
    }
    const entry = safeRelativePath(meta.entrypoint_path, `Function '${slug}': entrypoint_path`);
    const importMap = meta.import_map_path === undefined
      ? undefined
      : safeRelativePath(meta.import_map_path, `Function '${slug}': import_map_path`);
    const cleaned = files.map((f) => ({
      path: safeRelativePath(f.path, `Function '${slug}': file`),
      data: f.data,
    }));
    const size = cleaned.reduce((n, f) => n + f.data.length, 0);
    if (size > MAX_DEPLOY_BYTES) {
      throw new HttpError(413, `Function '${slug}': ${size} bytes exceeds ${MAX_DEPLOY_BYTES}`);
    }
    for (const needed of [entry, importMap]) {
      if (needed !== undefined && !cleaned.some((f) => f.path === needed)) {
        throw new HttpError(400, `Function '${slug}': no file part uploaded for '${needed}'`);
      }
    }
    return this.#mutex.run(slug, () => this.#write(slug, meta, entry, importMap, cleaned));
  }

  delete(slug: string): Promise<void> {
    return this.#mutex.run(slug, async () => {
      if (!this.#current.has(slug)) {
        throw new HttpError(404, `Function '${slug}' not found`);
      }
      this.#current.delete(slug);
      await Deno.remove(`${this.#root}/${slug}`, { recursive: true });
    });
  }

  async #write(
    slug: string,
    meta: DeployMetadata,
    entry: string,
    importMap: string | undefined,
    files: UploadedFile[],
  ): Promise<FunctionVersion> {
    const fnDir = `${this.#root}/${slug}`;
    await Deno.mkdir(`${fnDir}/versions`, { recursive: true });
    const now = Date.now();
    let identity: { id: string; created_at: number };
    try {
      identity = JSON.parse(await Deno.readTextFile(`${fnDir}/function.json`));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      identity = { id: crypto.randomUUID(), created_at: now };
      await writeAtomic(`${fnDir}/function.json`, JSON.stringify({ slug, ...identity }));
    }
    const previous = await this.#newestVersion(slug);
    const version: FunctionVersion = {
      id: identity.id,
      slug,
      name: meta.name ?? slug,
      status: "ACTIVE",
      version: (previous?.version ?? 0) + 1,
      verify_jwt: meta.verify_jwt ?? true,
      import_map: importMap !== undefined,
      entrypoint_path: entry,
      ...(importMap === undefined ? {} : { import_map_path: importMap }),
      ezbr_sha256: await contentHash(files),
      created_at: identity.created_at,
      updated_at: now,
    };
    const staging = `${fnDir}/versions/.staging-${crypto.randomUUID()}`;
    for (const f of files) {
      const target = `${staging}/files/${f.path}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(target, f.data, { mode: 0o644 });
    }
    await Deno.writeTextFile(`${staging}/meta.json`, JSON.stringify(version, null, 2));
    await Deno.rename(staging, this.#versionDir(slug, version.version));
    this.#current.set(slug, version);
    return version;
  }

  #versionDir(slug: string, version: number): string {
    return `${this.#root}/${slug}/versions/${version}`;
  }

  async #newestVersion(slug: string): Promise<FunctionVersion | undefined> {
    let newest = 0;
    try {
      for await (const v of Deno.readDir(`${this.#root}/${slug}/versions`)) {
        const n = Number(v.name);
        if (v.isDirectory && Number.isInteger(n) && n > newest) newest = n;
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    if (newest === 0) return undefined;
    return JSON.parse(await Deno.readTextFile(`${this.#versionDir(slug, newest)}/meta.json`));
  }
}
