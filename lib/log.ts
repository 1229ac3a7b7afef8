/** A JSON-lines logger: every line carries the command and container ID; never writes to stdout. */
export class Logger {
  #file: string | undefined;
  #base: Record<string, unknown>;

  constructor(base: Record<string, unknown>, file?: string) {
    this.#base = base;
    this.#file = file;
  }

  /** Adds fields to every later line (what is known once the environment is read). */
  addFields(fields: Record<string, unknown>): void {
    this.#base = { ...this.#base, ...fields };
  }

  /** Sends later lines to this file (known once the config is parsed). */
  setFile(file: string): void {
    this.#file = file;
  }

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.#write("info", msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.#write("warn", msg, fields);
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.#write("error", msg, fields);
  }

  #write(level: string, msg: string, fields: Record<string, unknown>): void {
    if (!this.#file) return;
    const line =
      JSON.stringify({ ts: new Date().toISOString(), level, ...this.#base, msg, ...fields }) + "\n";
    try {
      // One append per line: O_APPEND keeps concurrent plugin runs from interleaving inside a line.
      Deno.writeTextFileSync(this.#file, line, { append: true });
    } catch {
      try {
        Deno.mkdirSync(this.#file.slice(0, this.#file.lastIndexOf("/")) || "/", {
          recursive: true,
        });
        Deno.writeTextFileSync(this.#file, line, { append: true });
      } catch {
        // Logging must never fail a pod's network set-up.
      }
    }
  }
}
