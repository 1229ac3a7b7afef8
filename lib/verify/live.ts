/**
 * `bagpipe-cni verify --live`: verifies the node it runs on, now. Takes the EVPN routes from
 * the node's bagpipe-bgp looking glass as the snapshot, runs `tcpdump` on the underlay
 * interface (default: the one holding the daemon's `local_address`) for BGP and VXLAN, and
 * streams its pcap output straight into the decoder: memory stays flat and nothing is written
 * to disk unless `--save FILE`. Findings are printed on stderr as they are settled (a source MAC
 * not advertised yet waits up to 2 s of capture for a late route); Ctrl-C (SIGINT),
 * SIGTERM or `--duration` ends the capture and prints the full report. tcpdump is always
 * stopped, whatever ends the run.
 *
 * @example
 * ```sh
 * bagpipe-cni verify --live --duration 10 --json > report.json
 * ```
 */
import { parseCliArgs } from "../cli/args.ts";
import { type ByteSource, decodeCapture, type VerifyFinding } from "../../wasm/mod.ts";
import { atomicWrite } from "../atomic_write.ts";
import { renderHtmlReport } from "./html/render.ts";
import { describeFinding } from "./describe.ts";
import { EXIT, exitCodeFor, writeReport } from "./report_output.ts";
import { parseBagpipeLookingGlass } from "./rib/bagpipe.ts";
import { encodeRoutes } from "./rib/encode.ts";
import type { JsonObject } from "./rib/route.ts";
import { decoderArgs } from "./decoder_args.ts";

const USAGE = `usage: bagpipe-cni verify --live [--interface IF] [--duration S] [--bagpipe-url URL]
                           [--save FILE] [--json] [--html OUT] [--vxlan-port N]...
  --interface IF     underlay interface to capture on (default: the one holding bagpipe-bgp's
                     local_address)
  --duration S       stop after S seconds (default: at Ctrl-C)
  --bagpipe-url URL  the node daemon's REST API (default http://127.0.0.1:8082)
  --save FILE        also write the capture to FILE (pcap)
  --state-dir DIR    the plugin's attachment records, for the node check that follows the
                     capture (default /var/lib/cni/bagpipe)
  --json, --html OUT, --vxlan-port N, --underlay-mtu N: as for a capture file
exit: 0 consistent, 1 error findings, 2 cannot capture (no interface, no tcpdump, no
permission, daemon down)`;

/** What `--live` was asked to do. */
export interface LiveArgs {
  iface?: string;
  durationS?: number;
  bagpipeUrl: string;
  save?: string;
  stateDir: string;
  json: boolean;
  html?: string;
  vxlanPorts: number[];
  underlayMtu: number;
}

/** A problem that stops `--live` before or while capturing; the message says what and why. */
export class LiveError extends Error {}

/**
 * The node check (kernel fdb/neighbour state and the plugin's records against the daemon's
 * routes, live_node_check.ts), run once the capture ended; its findings follow the report.
 */
export type NodeCheck = (bagpipeUrl: string) => Promise<{ errors: number; lines: string[] }>;

/** Parses the arguments after `verify --live`. @throws Error naming the bad argument. */
export async function parseLiveArgs(argv: string[]): Promise<LiveArgs> {
  const { values, positionals } = await parseCliArgs({
    args: argv,
    allowPositionals: true,
    options: {
      interface: { type: "string" },
      duration: { type: "string" },
      "bagpipe-url": { type: "string", default: "http://127.0.0.1:8082" },
      save: { type: "string" },
      "state-dir": { type: "string", default: "/var/lib/cni/bagpipe" },
      json: { type: "boolean", default: false },
      html: { type: "string" },
      "vxlan-port": { type: "string", multiple: true, default: [] },
      "underlay-mtu": { type: "string", default: "1500" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) throw new Error("help requested");
  if (positionals.length > 0) {
    throw new Error(`--live takes no capture file (got "${positionals[0]}")`);
  }
  let durationS: number | undefined;
  if (values.duration !== undefined) {
    durationS = Number(values.duration);
    if (!/^\d+(\.\d+)?$/.test(values.duration) || durationS <= 0) {
      throw new Error(`--duration "${values.duration}" is not a positive number of seconds`);
    }
  }
  const { vxlanPorts, underlayMtu } = decoderArgs(values);
  for (const name of ["interface", "save", "html", "state-dir"] as const) {
    if (values[name] === "") throw new Error(`--${name} needs a value`);
  }
  return {
    iface: values.interface,
    durationS,
    bagpipeUrl: values["bagpipe-url"].replace(/\/+$/, ""),
    save: values.save,
    stateDir: values["state-dir"],
    json: values.json,
    html: values.html,
    vxlanPorts,
    underlayMtu,
  };
}

async function getJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(10000),
    });
  } catch (e) {
    throw new LiveError(
      `bagpipe-bgp is not answering at ${url}: ${(e as Error).message} (is the daemon running?)`,
    );
  }
  const text = await res.text();
  if (!res.ok) throw new LiveError(`bagpipe-bgp answered ${res.status} to GET ${url}: ${text}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new LiveError(`bagpipe-bgp's answer to GET ${url} is not JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * The daemon's EVPN view as one looking-glass document: each instance's received and
 * advertised routes. @throws LiveError when the daemon does not answer.
 */
export async function fetchLookingGlass(baseUrl: string): Promise<JsonObject> {
  const lg = `${baseUrl}/looking-glass`;
  const list = await getJson(`${lg}/vpns/instances`);
  if (!Array.isArray(list)) throw new LiveError(`GET ${lg}/vpns/instances is not a list`);
  const instances: JsonObject = {};
  for (const entry of list) {
    const id = (entry as { id?: unknown })?.id;
    if (typeof id !== "string") continue;
    const base = `${lg}/vpns/instances/${encodeURIComponent(id)}`;
    instances[id] = {
      received_routes: await getJson(`${base}/received_routes`),
      adv_routes: await getJson(`${base}/adv_routes`),
    };
  }
  return { source: lg, instances };
}

async function ipJson(args: string[]): Promise<unknown> {
  const out = await new Deno.Command("ip", {
    args: ["-j", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new LiveError(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout) || "[]");
}

/**
 * The interface to capture on: `requested`, checked to exist, or the one holding the daemon's
 * BGP `local_address`. @throws LiveError saying which interface or address is missing.
 */
export async function underlayInterface(baseUrl: string, requested?: string): Promise<string> {
  if (requested) {
    const links = await ipJson(["link", "show"]) as { ifname: string }[];
    if (!links.some((l) => l.ifname === requested)) {
      throw new LiveError(`interface "${requested}" does not exist on this node`);
    }
    return requested;
  }
  const config = await getJson(`${baseUrl}/looking-glass/config`) as {
    BGP?: { local_address?: unknown };
  };
  const local = config?.BGP?.local_address;
  if (typeof local !== "string") {
    throw new LiveError(`bagpipe-bgp's config has no BGP local_address; give --interface`);
  }
  const addrs = await ipJson(["addr", "show"]) as {
    ifname: string;
    addr_info?: { local: string }[];
  }[];
  const holder = addrs.find((l) => l.addr_info?.some((a) => a.local === local));
  if (!holder) {
    throw new LiveError(
      `no interface holds bagpipe-bgp's local_address ${local}; give --interface`,
    );
  }
  return holder.ifname;
}

/** tcpdump's filter: BGP, and VXLAN on 4789 and the extra ports. */
export function captureFilter(vxlanPorts: readonly number[]): string {
  const udp = [4789, ...vxlanPorts.filter((p) => p !== 4789)].map((p) => `udp port ${p}`);
  return ["tcp port 179", ...udp].join(" or ");
}

/** A running tcpdump writing pcap to its stdout. */
interface Tcpdump {
  child: Deno.ChildProcess;
  stdout: ByteSource;
  /** Its stderr so far (it says why it could not capture). */
  messages(): string;
  stop(): Promise<void>;
}

/** Reads a byte stream chunk by chunk into the decoder's buffers, copying each chunk to `tee`. */
function streamSource(
  stream: ReadableStream<Uint8Array>,
  tee?: (chunk: Uint8Array) => void,
): ByteSource {
  const reader = stream.getReader();
  let pending: Uint8Array | null = null;
  return {
    async read(into: Uint8Array): Promise<number | null> {
      if (!pending || pending.length === 0) {
        const { value, done } = await reader.read();
        if (done || !value) return null;
        tee?.(value);
        pending = value;
      }
      const n = Math.min(into.length, pending.length);
      into.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    },
  };
}

function startTcpdump(iface: string, filter: string, tee?: (c: Uint8Array) => void): Tcpdump {
  let child: Deno.ChildProcess;
  try {
    // -U --immediate-mode: every packet as it comes; -w -: pcap on stdout; -s 0: whole packets.
    child = new Deno.Command("tcpdump", {
      args: ["-n", "-s", "0", "-U", "--immediate-mode", "-i", iface, "-w", "-", filter],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new LiveError("tcpdump is not installed (Debian package tcpdump)");
    }
    throw new LiveError(`failed to start tcpdump: ${(e as Error).message}`);
  }
  let messages = "";
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) messages += decoder.decode(chunk, { stream: true });
  })().catch(() => undefined);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      const killed = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }, 3000);
      await child.status;
      clearTimeout(killed);
      await stderrDone;
    })();
  return { child, stdout: streamSource(child.stdout, tee), messages: () => messages, stop };
}

/**
 * Runs a live verification with parsed arguments; resolves to the exit code.
 * `nodeCheck` (the kernel-state check of issue #9 item 5) runs after the capture when given.
 */
export async function runLive(args: LiveArgs, nodeCheck?: NodeCheck): Promise<number> {
  const doc = await fetchLookingGlass(args.bagpipeUrl);
  const { routes } = parseBagpipeLookingGlass(doc);
  const iface = await underlayInterface(args.bagpipeUrl, args.iface);
  const snapshot = encodeRoutes(routes);
  console.error(
    `verify --live: ${routes.length} EVPN routes from bagpipe-bgp at ${args.bagpipeUrl}; ` +
      `capturing on ${iface}${args.durationS ? ` for ${args.durationS} s` : " until Ctrl-C"}`,
  );
  let save: Deno.FsFile | undefined;
  if (args.save) {
    try {
      save = Deno.openSync(args.save, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new LiveError(`failed to open --save file "${args.save}": ${(e as Error).message}`);
    }
  }
  const tee = save
    ? (chunk: Uint8Array) => {
      let off = 0;
      while (off < chunk.length) off += save!.writeSync(chunk.subarray(off));
    }
    : undefined;
  const tcpdump = startTcpdump(iface, captureFilter(args.vxlanPorts), tee);
  const stopOnSignal = () => void tcpdump.stop();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stopOnSignal);
  const timer = args.durationS
    ? setTimeout(() => void tcpdump.stop(), args.durationS * 1000)
    : undefined;
  try {
    const { report, readable } = await decodeCapture(tcpdump.stdout, {
      vxlanPorts: args.vxlanPorts,
      underlayMtu: args.underlayMtu,
      snapshot,
      // Small reads: findings are printed as their packets arrive.
      chunkSize: 64 << 10,
      timeline: args.json || args.html !== undefined,
      brief: !args.json && args.html === undefined,
      onFindings: (fresh) => fresh.forEach(printFinding),
    });
    const status = await tcpdump.child.status;
    if (report.capture.packets === 0 && !readable) {
      // tcpdump ended before writing a pcap header: it could not capture.
      const why = tcpdump.messages().trim() || `tcpdump exited with code ${status.code}`;
      throw new LiveError(`tcpdump cannot capture on ${iface}: ${why}`);
    }
    if (args.html) {
      atomicWrite(args.html, renderHtmlReport(report, { source: `live on ${iface}` }), 0o644);
      console.error(`verify: wrote ${args.html}`);
    }
    writeReport(report, args.json, `--live on ${iface}`);
    let code = exitCodeFor(report, readable);
    if (nodeCheck) {
      let node;
      try {
        node = await nodeCheck(args.bagpipeUrl);
      } catch (e) {
        throw new LiveError(
          `the node check after the capture could not run: ${(e as Error).message}`,
        );
      }
      for (const line of node.lines) console.error(line);
      if (node.errors > 0) code = EXIT.errors;
    }
    return code;
  } finally {
    clearTimeout(timer);
    for (const s of signals) Deno.removeSignalListener(s, stopOnSignal);
    await tcpdump.stop();
    save?.close();
  }
}

function printFinding(f: VerifyFinding): void {
  console.error(`verify --live: ${f.severity.toUpperCase()} ${f.kind}: ${describeFinding(f)}`);
}

/** `verify --live ARGS`: prints the report; returns the exit code (2 when it cannot capture). */
export async function liveCommand(argv: string[]): Promise<number> {
  let args: LiveArgs;
  try {
    args = await parseLiveArgs(argv);
  } catch (e) {
    const msg = (e as Error).message;
    console.error(msg === "help requested" ? USAGE : `verify --live: ${msg}\n${USAGE}`);
    return EXIT.unreadable;
  }
  try {
    const { liveNodeCheck } = await import("./live_node_check.ts");
    return await runLive(args, liveNodeCheck(args.stateDir));
  } catch (e) {
    if (e instanceof LiveError) {
      console.error(`verify --live: ${e.message}`);
      return EXIT.unreadable;
    }
    throw e;
  }
}
