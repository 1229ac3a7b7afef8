/**
 * Every pod pings every other pod. A pair is retried until its deadline: the first ARP of a new
 * instance can be answered before the remote neighbour entry exists, and Linux retries it only
 * after a second.
 */
import type { ExecResult } from "./conflist_runner.ts";

/** Runs argv inside a netns (a pod's), never throwing on exit codes. */
export type NetnsExec = (netns: string, argv: string[]) => Promise<ExecResult>;

/** The pod fields the matrix needs. */
export interface Pingable {
  name: string;
  netns: string;
  ip: string;
}

/** One pair's outcome: ms until the first reply, or undefined if none before the deadline. */
export interface PingCell {
  from: string;
  to: string;
  ms: number | undefined;
  tries: number;
}

/** Pings from one pod until answered or deadlineMs has passed. */
export async function pingUntilAnswered(
  exec: NetnsExec,
  from: Pingable,
  to: Pingable,
  deadlineMs: number,
): Promise<PingCell> {
  const started = performance.now();
  let tries = 0;
  while (performance.now() - started < deadlineMs) {
    tries++;
    const out = await exec(from.netns, ["ping", "-n", "-q", "-c", "1", "-W", "1", to.ip]);
    if (out.code === 0) {
      return { from: from.name, to: to.name, ms: Math.round(performance.now() - started), tries };
    }
  }
  return { from: from.name, to: to.name, ms: undefined, tries };
}

/** Pings every ordered pair of distinct pods; sources run in parallel, targets in turn. */
export async function pingMatrix(
  exec: NetnsExec,
  pods: Pingable[],
  deadlineMs = 10_000,
): Promise<PingCell[]> {
  const rows = await Promise.all(pods.map(async (from) => {
    const cells: PingCell[] = [];
    for (const to of pods) {
      if (to !== from) cells.push(await pingUntilAnswered(exec, from, to, deadlineMs));
    }
    return cells;
  }));
  return rows.flat();
}

/** The matrix as a table: rows ping, columns answer; "ok 12ms" or "FAIL". */
export function formatMatrix(pods: Pingable[], cells: PingCell[]): string[] {
  const label = (p: Pingable) => `${p.name} ${p.ip}`;
  const first = Math.max(...pods.map((p) => label(p).length), "from \\ to".length);
  const width = Math.max(...pods.map((p) => p.name.length), 10);
  const lines = [
    ["from \\ to".padEnd(first), ...pods.map((p) => p.name.padStart(width))].join("  "),
  ];
  for (const from of pods) {
    const row = pods.map((to) => {
      if (to === from) return "-".padStart(width);
      const cell = cells.find((c) => c.from === from.name && c.to === to.name);
      const text = cell === undefined
        ? "not run"
        : cell.ms === undefined
        ? "FAIL"
        : `ok ${cell.ms}ms`;
      return text.padStart(width);
    });
    lines.push([label(from).padEnd(first), ...row].join("  "));
  }
  return lines;
}
