/**
 * Structured JSON-lines log of invocations (one line each), buffered so that logging does not
 * cost a write per request; flushed every 100 ms, at 64 KiB, and on shutdown. Each flushed
 * batch also goes to the log drains, while there are any (`drainTo`). A line is encoded into
 * the buffer as it is written: kept as a string until the flush, each request's line
 * outlived the young generation and cost the collector more than the line's own making
 * (bench/edge_runtime.py: 87-93k requests/s before, 97-99k after).
 */
const FLUSH_BYTES = 65536;

export class JsonLog {
  #file: Deno.FsFile;
  #sink?: (lines: string[]) => void;
  #wanted: () => boolean = () => false;
  #generation: () => number = () => 0;
  #seen = -1;
  #keep = false;
  #lines: string[] = [];
  #buffer = new Uint8Array(FLUSH_BYTES * 2);
  #size = 0;
  #timer: ReturnType<typeof setInterval>;
  #encoder = new TextEncoder();
  #lastMs = 0;
  #lastIso = "";

  private constructor(file: Deno.FsFile) {
    this.#file = file;
    this.#timer = setInterval(() => this.flush(), 100);
  }

  /**
   * Hand each flushed batch's lines to `sink` while `wanted()` (the drains are configured by a
   * secret: asked again whenever `generation()`, the secrets' generation, changes).
   */
  drainTo(sink: (lines: string[]) => void, wanted: () => boolean, generation: () => number) {
    this.#sink = sink;
    this.#wanted = wanted;
    this.#generation = generation;
    this.#seen = -1;
  }

  static async open(path: string): Promise<JsonLog> {
    return new JsonLog(await Deno.open(path, { create: true, append: true, mode: 0o600 }));
  }

  /**
   * Append one line. `fields` is the inside of a JSON object (`"k":v,...`, already encoded):
   * the hot path formats its few fields directly instead of building and stringifying an object.
   */
  write(fields: string): void {
    const now = Date.now();
    if (now !== this.#lastMs) {
      this.#lastMs = now;
      this.#lastIso = new Date(now).toISOString();
    }
    const line = `{"timestamp":"${this.#lastIso}",${fields}}\n`;
    const generation = this.#generation();
    if (generation !== this.#seen) {
      this.#seen = generation;
      this.#keep = this.#sink !== undefined && this.#wanted();
    }
    if (this.#keep) this.#lines.push(line);
    let { read, written } = this.#encoder.encodeInto(line, this.#buffer.subarray(this.#size));
    if (read < line.length) {
      this.flush(); // the buffer is full: write it out and start again
      // a line longer than the buffer: one big enough for it (UTF-8 at most 3 bytes a unit)
      if (line.length * 3 > this.#buffer.length) this.#buffer = new Uint8Array(line.length * 3);
      ({ written } = this.#encoder.encodeInto(line, this.#buffer));
    }
    this.#size += written;
    if (this.#size >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.#lines.length > 0) {
      this.#sink?.(this.#lines);
      this.#lines = [];
    }
    if (this.#size === 0) return;
    const data = this.#buffer.subarray(0, this.#size);
    let written = 0;
    while (written < data.length) written += this.#file.writeSync(data.subarray(written));
    this.#size = 0;
  }

  close(): void {
    clearInterval(this.#timer);
    this.flush();
    this.#file.close();
  }
}
