/**
 * Structured JSON-lines log of invocations (one line each), buffered so that logging does not
 * cost a write per request; flushed every 100 ms, at 64 KiB, and on shutdown. Each flushed
 * batch also goes to `sink` (the log drains).
 */
export class JsonLog {
  #file: Deno.FsFile;
  /** Receives each flushed batch of lines (the log drains). */
  sink?: (lines: string[]) => void;
  #lines: string[] = [];
  #size = 0;
  #timer: ReturnType<typeof setInterval>;
  #encoder = new TextEncoder();
  #lastMs = 0;
  #lastIso = "";

  private constructor(file: Deno.FsFile) {
    this.#file = file;
    this.#timer = setInterval(() => this.flush(), 100);
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
    this.#lines.push(line);
    this.#size += line.length;
    if (this.#size >= 65536) this.flush();
  }

  flush(): void {
    if (this.#lines.length === 0) return;
    const data = this.#encoder.encode(this.#lines.join(""));
    this.sink?.(this.#lines);
    this.#lines = [];
    this.#size = 0;
    let written = 0;
    while (written < data.length) written += this.#file.writeSync(data.subarray(written));
  }

  close(): void {
    clearInterval(this.#timer);
    this.flush();
    this.#file.close();
  }
}
