/**
 * Step-by-step progress with timings: a numbered header when a step starts, indented notes
 * while it runs, its duration when it ends. Every line carries the time since the start, so a
 * slow step stands out in CI logs too.
 */
export class Progress {
  readonly #started = performance.now();
  readonly #timings: { step: string; ms: number }[] = [];
  #number = 0;

  constructor(readonly total: number, readonly write: (line: string) => void = console.log) {}

  /** Seconds since the start, as "12.3 s". */
  elapsed(): string {
    return `${((performance.now() - this.#started) / 1000).toFixed(1)} s`;
  }

  /** A note within the current step. */
  note(message: string): void {
    for (const line of message.split("\n")) this.write(`[${this.#stamp()}]     ${line}`);
  }

  /** Runs one numbered step; its duration is printed and kept for the summary. */
  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    const number = ++this.#number;
    this.write(`[${this.#stamp()}] ${number}/${this.total} ${name}`);
    const started = performance.now();
    const result = await run();
    const ms = Math.round(performance.now() - started);
    this.#timings.push({ step: name, ms });
    this.write(`[${this.#stamp()}]     done in ${(ms / 1000).toFixed(1)} s`);
    return result;
  }

  /** Each finished step and how long it took. */
  timings(): readonly { step: string; ms: number }[] {
    return this.#timings;
  }

  #stamp(): string {
    return this.elapsed().padStart(6);
  }
}
