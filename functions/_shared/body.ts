/**
 * Request bodies up to a limit: a larger `Content-Length` is refused before anything is read,
 * and a body sent without one (chunked) is read only until it passes the limit. Either way the
 * caller gets 413 and the function never parses (or holds in memory) more than it accepts.
 */
import { HttpError } from "./errors.ts";

function tooLarge(max: number): HttpError {
  return new HttpError(413, "PAYLOAD_TOO_LARGE", `The request body exceeds ${max} bytes`);
}

/**
 * The body read into memory, at most `max` bytes of it (empty when there is none); `tooLarge`
 * makes what is thrown past the limit. The local edge runtime reads deploy uploads with it too.
 */
export async function readAtMost(
  req: Request,
  max: number,
  tooLarge: () => Error,
): Promise<Uint8Array<ArrayBuffer>> {
  if (req.body === null) return new Uint8Array();
  const declared = Number(req.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > max) {
    await req.body.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(read.value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** The request with its body read into memory, at most `max` bytes of it. */
export async function withBodyLimit(req: Request, max: number): Promise<Request> {
  if (req.body === null) return req;
  const body = await readAtMost(req, max, () => tooLarge(max));
  return new Request(req.url, { method: req.method, headers: req.headers, body });
}
