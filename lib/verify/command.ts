/**
 * `bagpipe-cni verify FILE [--rib SNAPSHOT]… [--json] [--html OUT] [--vxlan-port N]…
 * [--underlay-mtu N]` (or `verify --live`, lib/verify/live.ts): decodes a capture
 * (pcap/pcapng) of BGP EVPN and VXLAN, holds every VXLAN frame against the EVPN control plane
 * at the moment it was captured, and reports sessions, routes, flows and findings.
 *
 * Exit codes: 0 consistent, 1 error findings, 2 input cannot be read (or bad arguments).
 * The report goes to stdout (text, or the JSON of lib/verify/SCHEMA.md with --json);
 * progress and problems go to stderr.
 *
 * @example
 * ```sh
 * deno run -A lib/verify/command.ts capture.pcap --json > report.json
 * ```
 */
import { parseCliArgs } from "../cli/args.ts";
import { decodeCapture } from "../../wasm/mod.ts";
import { EXIT, exitCodeFor, writeReport } from "./report_output.ts";

export { EXIT, exitCodeFor };
import { renderHtmlReport } from "./html/render.ts";
import { atomicWrite } from "../atomic_write.ts";
import { loadSnapshot, type Snapshot, SnapshotError, snapshotRecords } from "./rib/load.ts";
import { decoderArgs } from "./decoder_args.ts";

const USAGE =
  `usage: bagpipe-cni verify FILE [--rib SNAPSHOT]... [--json] [--html OUT] [--vxlan-port N]...
                           [--underlay-mtu N]
       bagpipe-cni verify --live [--interface IF] [--duration S] [--bagpipe-url URL]
                           [--save FILE] [--json] [--html OUT]
  FILE              pcap or pcapng capture (detected by magic)
  --rib SNAPSHOT    the EVPN routes at the capture's start, repeatable; the capture's UPDATEs
                    apply on top. Format detected from the content: bagpipe-bgp's looking glass
                    routes (JSON), \`gobgp global rib -a evpn -j\` (or a neighbour's adj-in/out),
                    FRR's \`show bgp l2vpn evpn route detail json\`
  --live            capture on this node now (see --live --help)
  --json            print the JSON report (schema: lib/verify/SCHEMA.md)
  --html OUT        also write a self-contained HTML page: fabric diagram, timeline, findings
  --vxlan-port N    also decode UDP port N as VXLAN (4789 always is), repeatable, e.g. 8472
  --underlay-mtu N  largest outer IP packet the underlay carries (default 1500)
exit: 0 consistent, 1 error findings, 2 input cannot be read`;

/** Parsed command line. */
export interface VerifyArgs {
  file: string;
  json: boolean;
  /** Where to write the HTML page, if asked. */
  html?: string;
  vxlanPorts: number[];
  underlayMtu: number;
  /** Control-plane snapshots (`--rib`), in order. */
  ribs: string[];
}

/**
 * Parses the arguments after "verify".
 * @throws Error saying which argument is wrong and why.
 */
export async function parseVerifyArgs(argv: string[]): Promise<VerifyArgs> {
  const { values, positionals } = await parseCliArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      html: { type: "string" },
      "vxlan-port": { type: "string", multiple: true, default: [] },
      "underlay-mtu": { type: "string", default: "1500" },
      rib: { type: "string", multiple: true, default: [] },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) throw new Error("help requested");
  if (positionals.length !== 1) {
    throw new Error(`expected exactly one capture file, got ${positionals.length}`);
  }
  const { vxlanPorts, underlayMtu } = decoderArgs(values);
  if (values.html === "") throw new Error("--html needs a file name");
  if (values.rib.some((f) => f === "")) throw new Error("--rib needs a file name");
  return {
    file: positionals[0],
    json: values.json,
    html: values.html,
    vxlanPorts,
    underlayMtu,
    ribs: values.rib,
  };
}

/**
 * Reads every `--rib` snapshot and encodes their routes for the decoder; on a bad snapshot
 * prints what is wrong with which file and returns undefined.
 */
export async function loadSnapshots(
  files: readonly string[],
): Promise<{ records: Uint8Array; snapshots: Snapshot[] } | undefined> {
  try {
    const snapshots: Snapshot[] = [];
    for (const f of files) snapshots.push(await loadSnapshot(f));
    for (const s of snapshots) {
      console.error(
        `verify: snapshot ${s.file}: ${s.format}, ${s.routes.length} EVPN routes` +
          (s.skipped ? ` (${s.skipped} of other route types left out)` : ""),
      );
    }
    return { records: snapshotRecords(snapshots), snapshots };
  } catch (e) {
    if (e instanceof SnapshotError) {
      console.error(`verify: ${e.message}`);
      return undefined;
    }
    throw e;
  }
}

/** Runs `verify` with the arguments after "verify"; prints the report; returns the exit code. */
export async function verifyCommand(argv: string[]): Promise<number> {
  if (argv.includes("--live")) {
    const { liveCommand } = await import("./live.ts");
    return liveCommand(argv.filter((a) => a !== "--live"));
  }
  let args: VerifyArgs;
  try {
    args = await parseVerifyArgs(argv);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(msg === "help requested" ? USAGE : `verify: ${msg}\n${USAGE}`);
    return EXIT.unreadable;
  }
  const seed = await loadSnapshots(args.ribs);
  if (!seed) return EXIT.unreadable;
  let file: Deno.FsFile;
  let size = 0;
  try {
    file = await Deno.open(args.file, { read: true });
    size = (await file.stat()).size;
  } catch (e) {
    console.error(`verify: failed to open "${args.file}": ${e instanceof Error ? e.message : e}`);
    return EXIT.unreadable;
  }
  const started = performance.now();
  let lastProgress = started;
  try {
    const { report, readable } = await decodeCapture(file, {
      vxlanPorts: args.vxlanPorts,
      underlayMtu: args.underlayMtu,
      snapshot: seed.records,
      // Only the JSON and the HTML page show the timeline.
      timeline: args.json || args.html !== undefined,
      brief: !args.json && args.html === undefined,
      onProgress: ({ bytes, packets }) => {
        const now = performance.now();
        if (now - lastProgress < 1000) return;
        lastProgress = now;
        const pct = size > 0 ? ` ${(100 * bytes / size).toFixed(0)}%` : "";
        console.error(
          `verify:${pct} ${(bytes / 1048576).toFixed(1)}/${
            (size / 1048576).toFixed(1)
          } MiB, ${packets} packets`,
        );
      },
    });
    if (!readable) {
      const why = report.capture.fatal_error;
      console.error(
        `verify: failed to read "${args.file}": ${
          why ? `${why.what}: ${why.why}` : "not a capture"
        }`,
      );
      return EXIT.unreadable;
    }
    if (performance.now() - started > 1000) {
      const secs = (performance.now() - started) / 1000;
      console.error(`verify: ${report.capture.packets} packets in ${secs.toFixed(2)} s`);
    }
    if (args.html) {
      try {
        atomicWrite(args.html, renderHtmlReport(report, { source: args.file }), 0o644);
      } catch (e) {
        console.error(
          `verify: failed to write "${args.html}": ${e instanceof Error ? e.message : e}`,
        );
        return EXIT.unreadable;
      }
      console.error(`verify: wrote ${args.html}`);
    }
    writeReport(report, args.json, args.file);
    return exitCodeFor(report, readable);
  } finally {
    file.close();
  }
}

if (import.meta.main) Deno.exit(await verifyCommand(Deno.args));
