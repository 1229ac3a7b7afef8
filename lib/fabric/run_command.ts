import { run } from "../net/run.ts";

/** What a finished command returned. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Input and environment for one command run. */
export interface CommandInput {
  stdin?: string;
  env?: Record<string, string>;
}

/** A command that exited non-zero, with what it printed. */
export class CommandError extends Error {
  constructor(readonly argv: string[], readonly result: CommandResult) {
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(-2000);
    super(`command failed (exit ${result.code}): ${argv.join(" ")}${detail ? `: ${detail}` : ""}`);
    this.name = "CommandError";
  }
}

/** Runs argv to completion and returns its exit code and output; never throws on exit codes. */
export async function runCommand(argv: string[], input: CommandInput = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (!program) throw new Error("runCommand: empty argv");
  return await run(program, args, input);
}

/** Runs argv and throws a CommandError unless it exits 0. */
export async function runChecked(argv: string[], input: CommandInput = {}): Promise<CommandResult> {
  const result = await runCommand(argv, input);
  if (result.code !== 0) throw new CommandError(argv, result);
  return result;
}
