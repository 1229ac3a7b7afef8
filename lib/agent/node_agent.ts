/**
 * The agent's view of its node, refreshed in the background and when found older than `minAgeMs`
 * (one refresh at a time): the daemon's liveness and restarts, its routes and peers, the node
 * check's drift, the attachment records, and the plugin log read so far.
 */
import { checkNodeAgainst, type NodeCheckReport } from "../node_check/check_node.ts";
import { type DaemonState, readDaemonState } from "../node_check/daemon_state.ts";
import { type AttachmentRecord, listAttachments } from "../state/attachments.ts";
import { CniLogStats } from "./cni_log_stats.ts";
import { type DaemonStatus, DaemonWatch } from "./daemon_watch.ts";
import { type FollowerStatus, LogFollower } from "./log_follower.ts";

/** Where the node's state is. */
export interface NodeAgentOptions {
  bagpipeUrl: string;
  stateDir: string;
  logFile: string;
  /** Time budget of each call to the daemon. */
  timeoutMs: number;
  /** A snapshot younger than this is served as is. */
  minAgeMs: number;
}

/** One consistent look at the node. */
export interface NodeSnapshot {
  takenAt: string;
  daemon: DaemonStatus;
  /** The daemon's view; undefined when it could not be read (why in stateError). */
  state?: DaemonState;
  stateError?: string;
  /** The node check; undefined when it could not run (why in checkError). */
  check?: NodeCheckReport;
  checkError?: string;
  records: AttachmentRecord[];
  brokenRecords: string[];
  recordsError?: string;
  log: FollowerStatus;
}

/** The node agent's state; `refresh()` brings it up to date. */
export class NodeAgent {
  readonly options: NodeAgentOptions;
  readonly logStats = new CniLogStats();
  #follower: LogFollower;
  #watch: DaemonWatch;
  #snapshot: NodeSnapshot | undefined;
  #takenMs = 0;
  #inFlight: Promise<NodeSnapshot> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: NodeAgentOptions) {
    this.options = options;
    this.#follower = new LogFollower(options.logFile);
    this.#watch = new DaemonWatch(options.bagpipeUrl, options.timeoutMs);
  }

  /**
   * The latest snapshot, at once: a scrape must not wait for the daemon and the kernel (a slow
   * node would make every scrape time out). One older than minAgeMs starts a refresh for the next
   * caller; only the very first call waits for one.
   */
  snapshot(): Promise<NodeSnapshot> {
    if (!this.#snapshot) return this.refresh();
    if (performance.now() - this.#takenMs >= this.options.minAgeMs) this.refresh().catch(() => {});
    return Promise.resolve(this.#snapshot);
  }

  /** Refreshes now (joining a refresh already running). */
  refresh(): Promise<NodeSnapshot> {
    this.#inFlight ??= this.#take().finally(() => this.#inFlight = undefined);
    return this.#inFlight;
  }

  /** Refreshes every `everyMs` (the daemon pinged, the log read), so no restart goes unseen. */
  startBackground(everyMs: number): void {
    this.#timer = setInterval(() => this.refresh().catch(() => {}), everyMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#follower.close();
  }

  async #readLog(): Promise<void> {
    for (const line of await this.#follower.poll()) this.logStats.consume(line);
  }

  async #take(): Promise<NodeSnapshot> {
    await this.#readLog();
    const daemon = await this.#watch.ping();
    const snap: NodeSnapshot = {
      takenAt: new Date().toISOString(),
      daemon,
      records: [],
      brokenRecords: [],
      log: this.#follower.status,
    };
    try {
      const listed = listAttachments(this.options.stateDir);
      snap.records = listed.records;
      snap.brokenRecords = listed.broken;
    } catch (e) {
      snap.recordsError = `cannot list ${this.options.stateDir}: ${(e as Error).message}`;
    }
    if (daemon.up) {
      try {
        snap.state = await readDaemonState(this.options.bagpipeUrl, {
          timeoutMs: this.options.timeoutMs,
        });
      } catch (e) {
        snap.stateError = (e as Error).message;
      }
    } else {
      snap.stateError = `daemon at ${this.options.bagpipeUrl} is down: ${daemon.error}`;
    }
    if (snap.state) {
      try {
        snap.check = await checkNodeAgainst(snap.state, { stateDir: this.options.stateDir });
      } catch (e) {
        snap.checkError = (e as Error).message;
      }
    } else {
      snap.checkError = `no node check without the daemon's view (${snap.stateError})`;
    }
    this.#snapshot = snap;
    this.#takenMs = performance.now();
    return snap;
  }
}
