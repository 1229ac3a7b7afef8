import { DaemonProcess, killLeftovers, type StopReport } from "./daemon_process.ts";
import { tailFile } from "./log_tail.ts";
import {
  allEstablished,
  type BgpPeerState,
  describePeers,
  parseBgpPeers,
} from "./looking_glass.ts";
import type { HttpAnswer } from "./netns_http.ts";
import { PollAbort, pollUntil } from "./poll.ts";
import type { FabricNode } from "./topology.ts";

/** Makes a REST call to this node's daemon from inside its netns. */
export type NodeHttp = (method: string, path: string, body?: unknown) => Promise<HttpAnswer>;

/**
 * How to launch bagpipe-bgp beyond its config, to reproduce behaviour that depends on the
 * process: e.g. B4 (bagpipe-bgp-b4.md), where a route's election hashes the host name with
 * Python's per-process string hash.
 */
export interface DaemonLaunch {
  /** Extra environment, e.g. PYTHONHASHSEED. */
  env?: Record<string, string>;
  /** Run in a UTS namespace of its own with this host name. */
  hostname?: string;
}

/** Runs the stock bagpipe-bgp of one node: start, readiness, stop. */
export class BagpipeDaemon {
  #process: DaemonProcess | undefined;

  constructor(readonly node: FabricNode, readonly http: NodeHttp) {}

  /** The daemon's pid while it runs. */
  get pid(): number | undefined {
    return this.#process && !this.#process.exit ? this.#process.pid : undefined;
  }

  /**
   * Starts bagpipe-bgp and waits until it answers /ping.
   * @returns the /ping value, which changes with every daemon process (compare as text).
   * @throws if it is already running, exits, or does not answer within timeoutMs.
   */
  async start(timeoutMs: number, launch: DaemonLaunch = {}): Promise<string> {
    if (this.pid !== undefined) {
      throw new Error(`bagpipe-bgp on ${this.node.name} is already running (pid ${this.pid})`);
    }
    const tmpDir = `${this.node.workDir}/tmp`;
    // oslo.privsep makes its socket dir with mkdtemp: keep each node's apart and ours.
    await Deno.mkdir(tmpDir, { recursive: true });
    this.#process = new DaemonProcess({
      label: `bagpipe-bgp on ${this.node.name}`,
      netns: this.node.name,
      argv: [
        // unshare and sh both exec, so the pid stays the daemon's.
        ...(launch.hostname === undefined
          ? []
          : ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', launch.hostname]),
        "bagpipe-bgp",
        "--config-file",
        this.node.configFile,
        "--log-file",
        this.node.logFile,
      ],
      outputFile: `${this.node.workDir}/bagpipe-bgp.out`,
      env: { ...launch.env, TMPDIR: tmpDir },
      cwd: this.node.workDir,
    });
    return await this.waitPing(timeoutMs);
  }

  /** Waits until /ping answers 200 and returns its value. */
  waitPing(timeoutMs: number): Promise<string> {
    return pollUntil({
      what: `bagpipe-bgp on ${this.node.name} to answer GET /ping`,
      timeoutMs,
      intervalMs: 150,
      explain: () => this.logTail(),
    }, async () => {
      this.#abortIfExited();
      const answer = await this.http("GET", "/ping");
      if (answer.status !== 200) throw new Error(`/ping answered ${answer.status}`);
      return answer.text.trim();
    });
  }

  /** Waits until looking-glass bgp/peers lists only Established peers. */
  waitEstablished(timeoutMs: number): Promise<BgpPeerState[]> {
    let seen = "no answer yet";
    return pollUntil({
      what: `bagpipe-bgp on ${this.node.name} to have all BGP peers Established`,
      timeoutMs,
      intervalMs: 150,
      explain: async () => `last bgp/peers: ${seen}\n${await this.logTail()}`,
    }, async () => {
      this.#abortIfExited();
      const answer = await this.http("GET", "/looking-glass/bgp/peers");
      if (answer.status !== 200) throw new Error(`bgp/peers answered ${answer.status}`);
      const peers = parseBgpPeers(answer.body);
      seen = describePeers(peers);
      return allEstablished(peers) ? peers : undefined;
    });
  }

  /**
   * Stops the daemon (SIGTERM, SIGKILL after graceMs: it can hang) and the privsep helper
   * it left behind.
   */
  async stop(graceMs: number): Promise<StopReport> {
    const report = this.#process
      ? await this.#process.stop(graceMs)
      : { endedBy: "already exited" as const, ms: 0 };
    await killLeftovers(`${this.node.workDir}/`, graceMs);
    return report;
  }

  /** The end of the daemon's log and of its stdout/stderr. */
  async logTail(lines = 25): Promise<string> {
    const exit = this.#process?.exit;
    const state = exit ? `bagpipe-bgp exited with code ${exit.code}\n` : "";
    return state + (await tailFile(this.node.logFile, lines)) + "\n" +
      (await tailFile(`${this.node.workDir}/bagpipe-bgp.out`, 10));
  }

  #abortIfExited(): void {
    const exit = this.#process?.exit;
    if (exit) throw new PollAbort(`bagpipe-bgp exited with code ${exit.code}`);
    if (!this.#process) throw new PollAbort("bagpipe-bgp is not running");
  }
}
