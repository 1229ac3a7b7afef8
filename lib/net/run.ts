/** What a finished command printed and how it exited. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/**
 * Runs a program with an argument array (never a shell) and collects its output.
 * @throws Error when the program cannot be started (for example, it is not installed).
 */
export async function run(
  program: string,
  args: string[],
  options: {
    stdin?: string;
    env?: Record<string, string>;
    clearEnv?: boolean;
    /** Called once the program has its whole input (stdin closed), while it runs. */
    inputSent?: () => void;
  } = {},
): Promise<RunResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      env: options.env,
      // As a CNI runtime runs a plugin: only the variables given, nothing inherited.
      clearEnv: options.clearEnv,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new Error(`cannot run ${program}: ${(e as Error).message}`);
  }
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(options.stdin));
    } catch {
      // The program exited without reading its input; its exit code tells what happened.
    } finally {
      await writer.close().catch(() => {});
    }
  }
  options.inputSent?.();
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The last non-empty line of a command's stderr: iproute2 puts the reason there. */
export function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "");
  return lines.at(-1)?.trim() ?? "";
}
