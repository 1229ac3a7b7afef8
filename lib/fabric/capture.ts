import { DaemonProcess, type StopReport } from "./daemon_process.ts";
import { tailFile } from "./log_tail.ts";
import { PollAbort, pollUntil } from "./poll.ts";

/** A running packet capture. */
export interface Capture {
  readonly file: string;
  readonly pid: number;
  /** Stops tcpdump (it flushes the file on SIGTERM); idempotent. */
  stop(): Promise<void>;
}

/** Where and how to capture. */
export interface CaptureSpec {
  netns: string;
  iface: string;
  file: string;
  /** tcpdump's own messages go here. */
  logFile: string;
  readyTimeoutMs?: number;
}

/** Starts `tcpdump -w` on iface inside netns and resolves once it is capturing. */
export async function startTcpdump(spec: CaptureSpec): Promise<Capture> {
  const label = `tcpdump on ${spec.netns}/${spec.iface}`;
  // -Z root: Debian's tcpdump otherwise drops to user "tcpdump", which cannot write the file.
  // --immediate-mode -U: hand over and write each packet as it comes. Without them libpcap
  // delivers packets in blocks every second and tcpdump drops the pending ones on SIGTERM,
  // so a short capture ends up empty.
  const process = new DaemonProcess({
    label,
    netns: spec.netns,
    argv: [
      "tcpdump",
      "-n",
      "--immediate-mode",
      "-U",
      "-Z",
      "root",
      "-i",
      spec.iface,
      "-w",
      spec.file,
    ],
    outputFile: spec.logFile,
  });
  const stop = async (): Promise<void> => {
    const report: StopReport = await process.stop(3000);
    if (report.endedBy === "SIGKILL") {
      throw new Error(`${label} ignored SIGTERM for 3 s; killed, ${spec.file} may be truncated`);
    }
  };
  try {
    await pollUntil({
      what: `${label} to start capturing into ${spec.file}`,
      timeoutMs: spec.readyTimeoutMs ?? 5000,
      intervalMs: 50,
      explain: () => tailFile(spec.logFile),
    }, async () => {
      if (process.exit) throw new PollAbort(`tcpdump exited with code ${process.exit.code}`);
      const log = await Deno.readTextFile(spec.logFile).catch(() => "");
      return log.includes("listening on") ? true : undefined;
    });
  } catch (error) {
    await process.stop(1000);
    throw error;
  }
  return { file: spec.file, pid: process.pid, stop };
}
