/**
 * Undo steps registered right after each resource is acquired. They run, newest first, only if
 * the command did not reach its commit point; their own failures are reported, never thrown, so
 * the operator sees the error that caused the rollback.
 */
export class Rollback {
  #undos: { what: string; undo: () => Promise<void>; holdsOlder: boolean }[] = [];
  #committed = false;

  /**
   * Registers how to release what was just acquired. With `holdsOlder`, a failure of this undo
   * keeps everything acquired before it: what it failed to release may still be in use (an
   * endpoint the daemon may still advertise needs its address, veth and record, for DEL).
   */
  push(what: string, undo: () => Promise<void>, opts: { holdsOlder?: boolean } = {}): void {
    this.#undos.push({ what, undo, holdsOlder: opts.holdsOlder ?? false });
  }

  /** Marks the commit point: from here on, nothing is undone. */
  commit(): void {
    this.#committed = true;
  }

  /** Runs the undo steps unless committed; returns the failures of the undo steps themselves. */
  async unwind(): Promise<string[]> {
    if (this.#committed) return [];
    const failures: string[] = [];
    const newestFirst = this.#undos.reverse();
    for (const [i, { what, undo, holdsOlder }] of newestFirst.entries()) {
      try {
        await undo();
      } catch (e) {
        failures.push(`failed to undo ${what}: ${(e as Error).message}`);
        if (holdsOlder && i + 1 < newestFirst.length) {
          const kept = newestFirst.slice(i + 1).map((u) => u.what).join(", ");
          failures.push(`kept for DEL to release: ${kept}`);
          break;
        }
      }
    }
    this.#undos = [];
    return failures;
  }
}
