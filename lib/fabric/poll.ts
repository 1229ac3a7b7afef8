/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What pollUntil needs to know. */
export interface PollOptions {
  /** What is awaited, for the error message ("bagpipe-bgp on n1 to answer /ping"). */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Extra text for the timeout error, computed only on failure (a log tail, say). */
  explain?: () => Promise<string>;
}

/**
 * Calls probe until it returns a value other than undefined, and returns it.
 * A probe that throws is retried; its last error goes into the timeout message.
 * A probe may throw PollAbort to stop waiting at once (the daemon exited).
 */
export async function pollUntil<T>(
  options: PollOptions,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const started = performance.now();
  const interval = options.intervalMs ?? 100;
  let last = "no answer yet";
  while (true) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof PollAbort) throw await _failure(options, error.message);
      last = (error as Error).message;
    }
    const elapsed = performance.now() - started;
    if (elapsed >= options.timeoutMs) {
      throw await _failure(options, `timed out after ${Math.round(elapsed)} ms (last: ${last})`);
    }
    await sleep(Math.min(interval, options.timeoutMs - elapsed));
  }
}

/** Thrown by a probe to make pollUntil give up immediately. */
export class PollAbort extends Error {
  override name = "PollAbort";
}

async function _failure(options: PollOptions, reason: string): Promise<Error> {
  const extra = options.explain ? await options.explain().catch((e) => String(e)) : "";
  return new Error(`waiting for ${options.what}: ${reason}${extra ? `\n${extra}` : ""}`);
}
