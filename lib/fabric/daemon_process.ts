import { inNetns } from "./netns.ts";
import { sleep } from "./poll.ts";

/** How to start a long-running program inside a netns. */
export interface DaemonSpec {
  /** For messages: "bagpipe-bgp on bcni-1a2b3c-n1". */
  label: string;
  netns: string;
  argv: string[];
  /** stdout and stderr are appended here (the program may keep its own log too). */
  outputFile: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** How a stop ended. */
export interface StopReport {
  /** The signal that ended the process, or "already exited". */
  endedBy: "SIGTERM" | "SIGKILL" | "already exited";
  ms: number;
}

/** A started daemon; its pid is the program itself (ip netns exec and sh both exec). */
export class DaemonProcess {
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  #exit: Deno.CommandStatus | undefined;
  readonly #child: Deno.ChildProcess;

  constructor(readonly spec: DaemonSpec) {
    // sh only sets up the redirection and then becomes the program, so pid stays the daemon's.
    const argv = inNetns(spec.netns, [
      "sh",
      "-c",
      'exec "$@" >>"$BCNI_DAEMON_OUTPUT" 2>&1',
      "sh",
      ...spec.argv,
    ]);
    try {
      this.#child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        env: { ...spec.env, BCNI_DAEMON_OUTPUT: spec.outputFile },
        cwd: spec.cwd,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      throw new Error(`failed to start ${spec.label}: ${(error as Error).message}`);
    }
    this.pid = this.#child.pid;
    this.status = this.#child.status.then((status) => (this.#exit = status));
  }

  /** The exit status once the process has ended, else undefined. */
  get exit(): Deno.CommandStatus | undefined {
    return this.#exit;
  }

  /** SIGTERM, then SIGKILL if it has not exited after graceMs; resolves once it is gone. */
  async stop(graceMs: number): Promise<StopReport> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    if (this.#exit) return { endedBy: "already exited", ms: 0 };
    this.#signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"grace over">((resolve) => {
      timer = setTimeout(() => resolve("grace over"), graceMs);
    });
    const first = await Promise.race([this.status, graceOver]);
    clearTimeout(timer);
    if (first !== "grace over") return { endedBy: "SIGTERM", ms: elapsed() };
    this.#signal("SIGKILL");
    await this.status;
    return { endedBy: "SIGKILL", ms: elapsed() };
  }

  #signal(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // It exited between the check and the signal: nothing left to stop.
    }
  }
}

/** PIDs of processes whose command line contains marker (a path unique to one fabric). */
export async function pidsWithCmdline(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(marker)) pids.push(Number(entry.name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids.filter((pid) => pid !== Deno.pid);
}

/** Whether a process with this pid still exists (a zombie counts as gone). */
export async function pidAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * Ends processes the daemons left behind (oslo.privsep's helper daemonizes), by pid:
 * SIGTERM, then SIGKILL after graceMs. Returns the pids it signalled.
 */
export async function killLeftovers(marker: string, graceMs: number): Promise<number[]> {
  const pids = await pidsWithCmdline(marker);
  for (const pid of pids) _signal(pid, "SIGTERM");
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline) {
    if (!(await _anyAlive(pids))) return pids;
    await sleep(50);
  }
  for (const pid of pids) _signal(pid, "SIGKILL");
  return pids;
}

async function _anyAlive(pids: number[]): Promise<boolean> {
  for (const pid of pids) if (await pidAlive(pid)) return true;
  return false;
}

function _signal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Already gone.
  }
}
