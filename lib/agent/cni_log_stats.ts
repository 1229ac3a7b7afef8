/**
 * What the plugin's JSON-lines log says happened: each CNI command's duration and result (its
 * final "done" or error line), errors by CNI code, and resyncs after daemon restarts.
 */
import { Histogram } from "./histogram.ts";

/** Counters accumulated from log lines. */
export class CniLogStats {
  readonly durations = new Histogram();
  /** "command|code" → count. */
  readonly errors = new Map<string, number>();
  resyncs = 0;
  reattachedPods = 0;
  lines = 0;
  unreadableLines = 0;
  /** The last requests, newest last, for the page. */
  readonly recent: {
    ts: string;
    command: string;
    containerId: string;
    result: string;
    ms: number;
  }[] = [];

  /** Takes one log line; lines that are not the plugin's JSON are counted and skipped. */
  consume(line: string): void {
    this.lines++;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
      if (typeof entry !== "object" || entry === null) throw new Error("not an object");
    } catch {
      this.unreadableLines++;
      return;
    }
    const command = typeof entry.command === "string" ? entry.command : undefined;
    const ms = typeof entry.ms === "number" ? entry.ms : undefined;
    // The backend's line after re-attaching pods (STATUS also logs a summary without `count`).
    if (
      entry.msg === "re-attached pods after a daemon restart" && typeof entry.count === "number"
    ) {
      this.resyncs++;
      this.reattachedPods += entry.count;
      return;
    }
    if (command === undefined || ms === undefined) return;
    let result: string;
    if (entry.level === "info" && entry.msg === "done") {
      result = "success";
    } else if (entry.level === "error" && typeof entry.code === "number") {
      result = "error";
      const key = `${command}|${entry.code}`;
      this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    } else {
      return;
    }
    this.durations.observe({ command, result }, ms / 1000);
    this.recent.push({
      ts: String(entry.ts ?? ""),
      command,
      containerId: String(entry.containerId ?? ""),
      result: result === "error" ? `error ${entry.code}: ${String(entry.msg ?? "")}` : result,
      ms,
    });
    if (this.recent.length > 50) this.recent.shift();
  }
}
