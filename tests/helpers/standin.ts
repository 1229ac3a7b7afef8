/** Runs the stand-in daemon (tests/fakes/bagpipe_standin.py) for a test or a benchmark. */

const STANDIN = new URL("../fakes/bagpipe_standin.py", import.meta.url).pathname;

/** A running stand-in: its process and the URL it answers on. */
export interface Standin {
  child: Deno.ChildProcess;
  url: string;
}

/**
 * Starts the stand-in on loopback, in `netns` when given (else in ours), on `port` (0: any free
 * one), appending each request to `requestLog` when given; resolves once it listens.
 */
export async function startStandin(
  opts: { netns?: string; port?: number; requestLog?: string; env?: Record<string, string> } = {},
): Promise<Standin> {
  const args = [STANDIN, String(opts.port ?? 0), ...(opts.requestLog ? [opts.requestLog] : [])];
  const [program, prefix] = opts.netns
    ? ["ip", ["netns", "exec", opts.netns, "/usr/bin/python3"]]
    : ["/usr/bin/python3", []];
  const child = new Deno.Command(program, {
    args: [...prefix, ...args],
    env: opts.env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  const port = /^ready (\d+)/.exec(text)?.[1];
  if (!port) {
    await stopStandin({ child, url: "" });
    throw new Error(`the stand-in daemon did not start: it said ${JSON.stringify(text)}`);
  }
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Stops a stand-in started by startStandin (already gone is fine). */
export async function stopStandin({ child }: Standin): Promise<void> {
  try {
    child.kill();
  } catch {
    // already gone
  }
  await child.status;
  await child.stdout.cancel().catch(() => {});
}
