import { DaemonProcess, type StopReport } from "./daemon_process.ts";
import { tailFile } from "./log_tail.ts";
import { execInNetns } from "./netns.ts";
import { PollAbort, pollUntil } from "./poll.ts";

/** gobgpd's gRPC API, on the reflector netns' loopback. */
const GOBGP_API = ["-u", "127.0.0.1", "-p", "50051"];

/** Runs the GoBGP route reflector in its netns. */
export class ReflectorDaemon {
  #process: DaemonProcess | undefined;

  constructor(readonly netns: string, readonly configFile: string, readonly logFile: string) {}

  /** gobgpd's pid while it runs. */
  get pid(): number | undefined {
    return this.#process && !this.#process.exit ? this.#process.pid : undefined;
  }

  /** Starts gobgpd and waits until its API answers (its BGP listener is up by then). */
  async start(timeoutMs: number): Promise<void> {
    if (this.pid !== undefined) {
      throw new Error(`gobgpd in ${this.netns} is already running (pid ${this.pid})`);
    }
    const process = new DaemonProcess({
      label: `gobgpd in ${this.netns}`,
      netns: this.netns,
      argv: [
        "gobgpd",
        "-f",
        this.configFile,
        "-p",
        "--api-hosts",
        "127.0.0.1:50051",
        "--pprof-disable",
      ],
      outputFile: this.logFile,
    });
    this.#process = process;
    await pollUntil({
      what: `gobgpd in ${this.netns} to answer on its API`,
      timeoutMs,
      intervalMs: 50,
      explain: () => tailFile(this.logFile),
    }, async () => {
      if (process.exit) throw new PollAbort(`gobgpd exited with code ${process.exit.code}`);
      const result = await execInNetns(this.netns, ["gobgp", ...GOBGP_API, "global"]);
      return result.code === 0 ? true : undefined;
    });
  }

  /** `gobgp neighbor` output, for diagnostics. */
  async neighbors(): Promise<string> {
    const result = await this.gobgp(["neighbor"]);
    return result.code === 0 ? result.stdout : `gobgp neighbor failed: ${result.stderr}`;
  }

  /** Runs the gobgp client against this reflector; never throws on exit codes. */
  gobgp(args: string[]) {
    return execInNetns(this.netns, ["gobgp", ...GOBGP_API, ...args]);
  }

  /**
   * Waits until every configured (non-dynamic) neighbor, e.g. the other datacenter's
   * reflector, is Established.
   */
  async waitPeersEstablished(timeoutMs: number): Promise<void> {
    let seen = "";
    await pollUntil({
      what: `gobgpd in ${this.netns} to have its configured neighbors Established`,
      timeoutMs,
      intervalMs: 250,
      explain: async () => `last gobgp neighbor:\n${seen}\n${await tailFile(this.logFile)}`,
    }, async () => {
      if (this.#process?.exit) {
        throw new PollAbort(`gobgpd exited with code ${this.#process.exit.code}`);
      }
      const result = await this.gobgp(["neighbor", "-j"]);
      seen = result.stdout.slice(0, 2000);
      if (result.code !== 0) return undefined;
      const peers = JSON.parse(result.stdout) as GobgpNeighbor[];
      const configured = peers.filter((p) => !_isDynamic(p));
      return configured.length > 0 && configured.every((p) => _established(p)) ? true : undefined;
    });
  }

  /** Stops gobgpd: SIGTERM, SIGKILL after graceMs. */
  stop(graceMs: number): Promise<StopReport> {
    return this.#process?.stop(graceMs) ??
      Promise.resolve({ endedBy: "already exited", ms: 0 });
  }
}

/** The part of `gobgp neighbor -j` we read (GoBGP 3.10 prints protobuf names). */
interface GobgpNeighbor {
  conf?: { peer_group?: string };
  state?: { session_state?: number };
}

/** Neighbors made from dynamic-neighbors carry their peer-group; configured ones do not. */
function _isDynamic(peer: GobgpNeighbor): boolean {
  return (peer.conf?.peer_group ?? "") !== "";
}

/** session_state 6 is ESTABLISHED in GoBGP's API enum. */
function _established(peer: GobgpNeighbor): boolean {
  return peer.state?.session_state === 6;
}
