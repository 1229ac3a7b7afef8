/** Small formatting helpers shared by the parts of the HTML report. */
import type { VerifyReport } from "../../../wasm/mod.ts";

/** Severity order for sorting: errors first. */
export const SEVERITY_RANK = { error: 0, warning: 1, info: 2 } as const;

/** Grouped thousands, so packet and byte counts read at a glance. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Absolute capture time as ISO 8601 (UTC), or "-" when the capture had none. */
export function isoTime(t: number | null): string {
  if (t === null || !Number.isFinite(t)) return "-";
  const d = new Date(t * 1000);
  return Number.isNaN(d.getTime()) ? "-" : d.toISOString();
}

/** Seconds since the first packet: short and comparable across rows, unlike epoch stamps. */
export function offset(report: VerifyReport, t: number): string {
  const start = report.capture.first_time ?? t;
  return `+${(t - start).toFixed(3)} s`;
}

/** Cuts long strings (an IPv6 address, a hostile field) so they fit an SVG box. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}
