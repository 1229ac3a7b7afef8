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
    const result = await execInNetns(this.netns, ["gobgp", ...GOBGP_API, "neighbor"]);
    return result.code === 0 ? result.stdout : `gobgp neighbor failed: ${result.stderr}`;
  }

  /** Stops gobgpd: SIGTERM, SIGKILL after graceMs. */
  stop(graceMs: number): Promise<StopReport> {
    return this.#process?.stop(graceMs) ??
      Promise.resolve({ endedBy: "already exited", ms: 0 });
  }
}
