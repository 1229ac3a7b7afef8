/**
 * What a demo may have left behind, found by its unique names: netns starting with its fabric
 * id, processes with its work dir on their command line, the work dir itself.
 */
import { killLeftovers, pidAlive, pidsWithCmdline } from "../fabric/daemon_process.ts";
import { deleteNetns, listNetns } from "../fabric/netns.ts";

/** Everything of one demo that still exists. */
export interface Leftovers {
  netns: string[];
  pids: number[];
  workDir: boolean;
}

/** Looks for the demo's netns, processes and work dir. */
export async function findLeftovers(fabricId: string, workDir: string): Promise<Leftovers> {
  const netns = (await listNetns()).filter((n) => n === fabricId || n.startsWith(`${fabricId}-`));
  const pids = [];
  for (const pid of await pidsWithCmdline(`${workDir}/`)) if (await pidAlive(pid)) pids.push(pid);
  const exists = await Deno.stat(workDir).then(() => true, () => false);
  return { netns, pids, workDir: exists };
}

/** True when nothing is left. */
export function isClean(left: Leftovers): boolean {
  return left.netns.length === 0 && left.pids.length === 0 && !left.workDir;
}

/** "nothing" or what is left, for messages. */
export function describeLeftovers(left: Leftovers, workDir: string): string {
  if (isClean(left)) return "nothing (no netns, no process, work dir removed)";
  const parts = [];
  if (left.netns.length) parts.push(`netns ${left.netns.join(", ")}`);
  if (left.pids.length) parts.push(`processes ${left.pids.join(", ")}`);
  if (left.workDir) parts.push(`directory ${workDir}`);
  return parts.join("; ");
}

/**
 * Removes what is left: processes (SIGTERM, then SIGKILL after graceMs; only those whose
 * command line names the work dir), then the netns, then the work dir.
 * @returns what was still there afterwards, and the errors met on the way.
 */
export async function removeLeftovers(
  fabricId: string,
  workDir: string,
  graceMs = 4000,
): Promise<{ left: Leftovers; problems: string[] }> {
  await killLeftovers(`${workDir}/`, graceMs);
  const problems: string[] = [];
  // Pods first: deleting a node netns with pods still plugged in works, but reads worse in logs.
  const netns = (await findLeftovers(fabricId, workDir)).netns
    .sort((a, b) => Number(/-(n\d+|rr|fab)$/.test(a)) - Number(/-(n\d+|rr|fab)$/.test(b)));
  for (const name of netns) {
    await deleteNetns(name).catch((e) => problems.push((e as Error).message));
  }
  await Deno.remove(workDir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) problems.push(`remove ${workDir}: ${e.message}`);
  });
  return { left: await findLeftovers(fabricId, workDir), problems };
}
