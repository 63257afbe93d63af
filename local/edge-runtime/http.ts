/** Small helpers for the JSON responses every route returns. */

import { readAtMost } from "../../functions/_shared/body.ts";

export function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** A request that cannot be served as asked; `toResponse` turns it into JSON. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message);
  }

  toResponse(): Response {
    return json(
      this.status,
      this.code ? { code: this.code, message: this.message } : {
        message: this.message,
      },
    );
  }
}

/**
 * A request's body, read into memory only up to `max` bytes: a larger `Content-Length` is
 * refused before anything is read, and a chunked body stops being read once it passes `max`
 * (413 either way), so an oversized upload never fills the runtime's memory. The reader is the
 * functions' own (`functions/_shared/body.ts`), with the runtime's error.
 */
export function readLimited(
  req: Request,
  max: number,
  what: string,
): Promise<Uint8Array<ArrayBuffer>> {
  return readAtMost(
    req,
    max,
    () => new HttpError(413, `${what}: the request body exceeds ${max} bytes`),
  );
}

/** Write a file atomically: a crash leaves the old content or the new one, never half. */
export async function writeAtomic(path: string, data: string | Uint8Array, mode = 0o600) {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  if (typeof data === "string") await Deno.writeTextFile(tmp, data, { mode });
  else await Deno.writeFile(tmp, data, { mode });
  await Deno.rename(tmp, path);
}

/** Serialise async work per key (deploys of one slug, writes of the secrets file). */
export class KeyedMutex {
  #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}
