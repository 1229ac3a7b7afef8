/**
 * Whether the node's bagpipe-bgp answers, and how often it restarted: its /ping identity is drawn
 * at each start, so every change of identity seen is one restart.
 */
import { BagpipeClient } from "../bagpipe/client.ts";

/** What the watch knows. */
export interface DaemonStatus {
  up: boolean;
  identity?: string;
  /** Identity changes seen since the agent started. */
  restarts: number;
  /** Why the last ping failed, while down. */
  error?: string;
  /** When `up` last changed (ISO time). */
  since: string;
}

/** Pings the daemon on demand; call `ping()` periodically so no restart goes unseen. */
export class DaemonWatch {
  #client: BagpipeClient;
  #status: DaemonStatus = { up: false, restarts: 0, since: new Date().toISOString() };

  constructor(url: string, timeoutMs: number, fetch?: typeof globalThis.fetch) {
    this.#client = new BagpipeClient(url, { timeoutMs, fetch });
  }

  get status(): DaemonStatus {
    return { ...this.#status };
  }

  /** One ping; never throws (a failure is the daemon being down). */
  async ping(): Promise<DaemonStatus> {
    const was = this.#status;
    try {
      const identity = await this.#client.ping();
      const restarted = was.identity !== undefined && was.identity !== identity;
      this.#status = {
        up: true,
        identity,
        restarts: was.restarts + (restarted ? 1 : 0),
        since: was.up ? was.since : new Date().toISOString(),
      };
    } catch (e) {
      this.#status = {
        up: false,
        identity: was.identity,
        restarts: was.restarts,
        error: (e as Error).message,
        since: was.up ? new Date().toISOString() : was.since,
      };
    }
    return this.status;
  }
}
