/** Milliseconds per step of a CNI command, logged with its result: where a slow pod went. */
export class StepTimes {
  /** Step name → milliseconds, to 0.1 ms. */
  readonly steps: Record<string, number> = {};
  #mark = performance.now();

  /** Ends `step`: the time since the previous lap (or since this was made). */
  lap(step: string): void {
    const now = performance.now();
    this.steps[step] = Math.round((now - this.#mark) * 10) / 10;
    this.#mark = now;
  }
}
