/** One registered clean-up step. */
interface UndoStep {
  what: string;
  run: () => Promise<void>;
}

/**
 * Clean-up steps registered right after each resource is acquired, run last-first.
 * Running is idempotent: steps run once; a failing step does not stop the others, and all
 * failures are reported together at the end.
 */
export class UndoStack {
  #steps: UndoStep[] = [];
  #running: Promise<void> | undefined;

  /** Registers how to undo something just acquired. */
  push(what: string, run: () => Promise<void>): void {
    this.#steps.push({ what, run });
  }

  /** Runs and forgets every registered step, newest first. */
  runAll(onStep?: (msg: string) => void): Promise<void> {
    // A second caller while the first is running waits for the same run.
    this.#running ??= this.#drain(onStep).finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #drain(onStep?: (msg: string) => void): Promise<void> {
    const failures: string[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        onStep?.(step.what);
        await step.run();
      } catch (error) {
        failures.push(`${step.what}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) {
      throw new Error(`clean-up failed in ${failures.length} step(s):\n${failures.join("\n")}`);
    }
  }
}
