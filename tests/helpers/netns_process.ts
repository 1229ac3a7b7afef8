/**
 * A long-running program started inside a test's netns (`ip netns exec` execs it, so the child's
 * PID is the program's), its output collected into a file, stopped by that PID only.
 */
export class NetnsProcess {
  private constructor(
    readonly child: Deno.ChildProcess,
    readonly logFile: string,
    private readonly done: Promise<void>,
  ) {}

  static start(netns: string, argv: string[], logFile: string): NetnsProcess {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", netns, ...argv],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const file = Deno.openSync(logFile, { create: true, append: true });
    const copy = (stream: ReadableStream<Uint8Array>) =>
      stream.pipeTo(new WritableStream({ write: (chunk) => void file.writeSync(chunk) }));
    const done = Promise.allSettled([copy(child.stdout), copy(child.stderr)]).then(() =>
      file.close()
    );
    return new NetnsProcess(child, logFile, done);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once it exited and its output is saved. */
  async stop(graceMs = 5000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, graceMs);
    const status = await this.child.status;
    clearTimeout(timer);
    await this.done;
    return status;
  }

  /** The output so far. */
  output(): string {
    try {
      return Deno.readTextFileSync(this.logFile);
    } catch {
      return "";
    }
  }
}
