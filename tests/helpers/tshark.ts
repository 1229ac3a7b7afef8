/**
 * tshark as the independent decoder verify's tests cross-check against: fields of a capture's
 * frames, and the BGP message counts a report must agree with.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { VerifyReport } from "../../wasm/mod.ts";

/** Whether tshark can run here (tests that need it are ignored otherwise). */
export const hasTshark = (() => {
  try {
    return new Deno.Command("tshark", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

/**
 * `tshark -r FILE -Y FILTER -T fields -e F…`: one row per matching frame, one column per field.
 * `occurrence` picks which of a field's repeats to print ("a": all, joined by `aggregator`).
 */
export async function tsharkFields(
  file: string,
  filter: string,
  fields: string[],
  options: { occurrence?: "a" | "f" | "l"; aggregator?: string } = {},
): Promise<string[][]> {
  const args = ["-r", file, "-Y", filter, "-T", "fields"];
  if (options.occurrence) args.push("-E", `occurrence=${options.occurrence}`);
  if (options.aggregator) args.push("-E", `aggregator=${options.aggregator}`);
  for (const field of fields) args.push("-e", field);
  const out = await new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `tshark -r ${file} -Y ${filter} failed (${out.code}): ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout).trim().split("\n").filter(Boolean)
    .map((line) => line.split("\t"));
}

/** The BGP message types (`bgp.type`: "1" OPEN, "2" UPDATE, "4" KEEPALIVE…) of each frame. */
export async function bgpTypesPerFrame(file: string): Promise<string[][]> {
  const rows = await tsharkFields(file, "bgp", ["bgp.type"], { occurrence: "a", aggregator: "," });
  return rows.map((row) => row[0]!.split(","));
}

/** Asserts the report counted as many OPENs, UPDATEs and KEEPALIVEs as tshark decodes. */
export function assertBgpMessageCounts(report: VerifyReport, types: string[][]): void {
  const count = (t: string) => types.flat().filter((x) => x === t).length;
  const sum = (k: "open" | "update" | "keepalive") =>
    report.sessions.reduce((n, s) => n + s.directions.reduce((m, d) => m + d.messages[k], 0), 0);
  assertEquals([sum("open"), sum("update"), sum("keepalive")], [
    count("1"),
    count("2"),
    count("4"),
  ]);
}
