import { type CommandInput, type CommandResult, runChecked, runCommand } from "./run_command.ts";

/** Where iproute2 keeps named network namespaces. */
export const NETNS_DIR = "/run/netns";

/** The path of a named netns, as CNI_NETNS expects it. */
export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/** The argv that runs argv inside the named netns. */
export function inNetns(netns: string, argv: string[]): string[] {
  return ["ip", "netns", "exec", netns, ...argv];
}

/** Runs argv inside the named netns; never throws on exit codes. */
export function execInNetns(
  netns: string,
  argv: string[],
  input: CommandInput = {},
): Promise<CommandResult> {
  return runCommand(inNetns(netns, argv), input);
}

/** Creates the named netns with its loopback up; fails if the name is taken. */
export async function createNetns(name: string): Promise<void> {
  await runChecked(["ip", "netns", "add", name]);
  await runChecked(["ip", "-n", name, "link", "set", "lo", "up"]);
}

/** Deletes the named netns; a netns that is already gone is not an error. */
export async function deleteNetns(name: string): Promise<void> {
  const result = await runCommand(["ip", "netns", "delete", name]);
  if (result.code === 0 || !(await netnsExists(name))) return;
  throw new Error(`failed to delete netns "${name}": ${result.stderr.trim()}`);
}

/** Whether a named netns exists. */
export async function netnsExists(name: string): Promise<boolean> {
  try {
    await Deno.lstat(netnsPath(name));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The names of all named netns (read from /run/netns: `ip netns list` fails while others delete). */
export async function listNetns(): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(NETNS_DIR)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}
