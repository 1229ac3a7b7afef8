/**
 * Reads a growing log file incrementally, a complete line at a time, and keeps reading across
 * rotation (the file renamed and a new one created: the rest of the old file is read first, then
 * the new one from its start) and truncation (copytruncate: read again from the start).
 */

/** What the follower knows about its file. */
export interface FollowerStatus {
  file: string;
  /** False while the file does not exist (or cannot be opened); why in `error`. */
  present: boolean;
  error?: string;
  /** Bytes consumed of the current file. */
  offset: number;
  rotations: number;
  truncations: number;
}

const CHUNK = 64 * 1024;
/** A line longer than this is cut (its remainder dropped), so one bad writer cannot eat memory. */
const MAX_LINE = 1024 * 1024;

/** Follows one file; call `poll()` whenever new lines are wanted. */
export class LogFollower {
  #file: string;
  #handle: Deno.FsFile | undefined;
  #ino: number | null = null;
  /** The inode of the last file opened, to tell a new file (rotation) from the same one. */
  #lastIno: number | null = null;
  #offset = 0;
  #partial = "";
  #decoder = new TextDecoder();
  #status: FollowerStatus;

  constructor(file: string) {
    this.#file = file;
    this.#status = { file, present: false, offset: 0, rotations: 0, truncations: 0 };
  }

  get status(): FollowerStatus {
    return { ...this.#status, offset: this.#offset };
  }

  /** Every complete line written since the last poll (never throws: problems go to status). */
  async poll(): Promise<string[]> {
    const lines: string[] = [];
    try {
      if (!this.#handle) await this.#open();
      if (!this.#handle) return lines;
      const stat = await this.#handle.stat();
      if (stat.size < this.#offset) {
        // Truncated in place: whatever is there now is new.
        this.#status.truncations++;
        this.#offset = 0;
        this.#partial = "";
        await this.#handle.seek(0, Deno.SeekMode.Start);
      }
      await this.#readToEnd(lines);
      const current = await Deno.stat(this.#file).catch(() => undefined);
      if (!current || current.ino !== this.#ino) {
        // Rotated (or removed): the old file is read to its end above; the next one from 0
        // (counted as a rotation by #open, also when it appears only at a later poll).
        this.#close();
        if (current) {
          await this.#open();
          if (this.#handle) await this.#readToEnd(lines);
        } else {
          this.#status.present = false;
          this.#status.error = `log file ${this.#file} does not exist (removed or rotated away)`;
        }
      }
    } catch (e) {
      this.#status.error = `reading log file ${this.#file} failed: ${(e as Error).message}`;
      this.#close();
    }
    return lines;
  }

  /** Stops following (closes the file). */
  close(): void {
    this.#close();
  }

  async #open(): Promise<void> {
    try {
      this.#handle = await Deno.open(this.#file, { read: true });
      this.#ino = (await this.#handle.stat()).ino;
      if (this.#lastIno !== null && this.#ino !== this.#lastIno) this.#status.rotations++;
      this.#lastIno = this.#ino;
      this.#offset = 0;
      this.#partial = "";
      this.#status.present = true;
      delete this.#status.error;
    } catch (e) {
      this.#handle = undefined;
      this.#status.present = false;
      this.#status.error = e instanceof Deno.errors.NotFound
        ? `log file ${this.#file} does not exist`
        : `cannot open log file ${this.#file}: ${(e as Error).message}`;
    }
  }

  async #readToEnd(lines: string[]): Promise<void> {
    const buffer = new Uint8Array(CHUNK);
    while (true) {
      const n = await this.#handle!.read(buffer);
      if (n === null || n === 0) break;
      this.#offset += n;
      const text = this.#partial + this.#decoder.decode(buffer.subarray(0, n), { stream: true });
      const parts = text.split("\n");
      this.#partial = parts.pop()!;
      if (this.#partial.length > MAX_LINE) this.#partial = "";
      for (const line of parts) if (line.trim() !== "") lines.push(line);
    }
  }

  #close(): void {
    try {
      this.#handle?.close();
    } catch {
      // already closed
    }
    this.#handle = undefined;
    this.#ino = null;
  }
}
