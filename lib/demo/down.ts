/**
 * `demo --down`: removes a demo recorded in the state file (kept with --keep, or left by a demo
 * process that was killed): its processes, found by the work dir on their command line and
 * checked against the recorded pids, its netns, its work dir, then the state file.
 */
import { loadDemoState, removeDemoState } from "./demo_state.ts";
import { describeLeftovers, findLeftovers, isClean, removeLeftovers } from "./leftovers.ts";

/** Removes the recorded demo; returns the exit code (0 when nothing is left). */
export async function downDemo(stateFile: string, write: (line: string) => void): Promise<number> {
  const state = await loadDemoState(stateFile);
  if (!state) {
    write(`bagpipe-cni demo --down: no demo recorded in ${stateFile}; nothing to remove`);
    return 0;
  }
  const started = performance.now();
  write(
    `bagpipe-cni demo --down: removing ${state.fabricId} (${state.status} since ${state.createdAt}, ${state.netns.length} netns, ${state.pids.length} recorded processes, ${state.workDir})`,
  );
  if (state.status === "running" && _alive(state.demoPid)) {
    write(
      `bagpipe-cni demo --down: refusing: the demo process ${state.demoPid} that made it is still running (stop it with Ctrl-C; it tears down itself)`,
    );
    return 1;
  }
  const before = await findLeftovers(state.fabricId, state.workDir);
  write(`found: ${describeLeftovers(before, state.workDir)}`);
  const { left, problems } = await removeLeftovers(state.fabricId, state.workDir);
  for (const problem of problems) write(`problem: ${problem}`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (!isClean(left)) {
    write(`left behind: ${describeLeftovers(left, state.workDir)}; state kept in ${stateFile}`);
    return 1;
  }
  await removeDemoState(stateFile);
  write(`left behind: ${describeLeftovers(left, state.workDir)}; removed in ${seconds} s`);
  return 0;
}

/** Whether pid runs (a zombie does not count); another program may have its pid by now. */
function _alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return !/^\d+ \(.*\) Z/.test(stat) && cmdline.includes("demo");
  } catch {
    return false;
  }
}
