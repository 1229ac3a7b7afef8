/**
 * Undo steps registered right after each resource is acquired. They run, newest first, only if
 * the command did not reach its commit point; their own failures are reported, never thrown, so
 * the operator sees the error that caused the rollback.
 */
export class Rollback {
  #undos: { what: string; undo: () => Promise<void> }[] = [];
  #committed = false;

  /** Registers how to release what was just acquired. */
  push(what: string, undo: () => Promise<void>): void {
    this.#undos.push({ what, undo });
  }

  /** Marks the commit point: from here on, nothing is undone. */
  commit(): void {
    this.#committed = true;
  }

  /** Runs the undo steps unless committed; returns the failures of the undo steps themselves. */
  async unwind(): Promise<string[]> {
    if (this.#committed) return [];
    const failures: string[] = [];
    for (const { what, undo } of this.#undos.reverse()) {
      try {
        await undo();
      } catch (e) {
        failures.push(`failed to undo ${what}: ${(e as Error).message}`);
      }
    }
    this.#undos = [];
    return failures;
  }
}
