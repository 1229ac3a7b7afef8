/**
 * The verify decoder for callers: stream a capture through the WebAssembly module in
 * chunks and get back a validated report. The module bytes are imported lazily, so
 * importing this file costs nothing until a capture is decoded.
 *
 * @example
 * ```ts
 * using file = await Deno.open("capture.pcap");
 * const { report, readable } = await decodeCapture(file, { vxlanPorts: [8472] });
 * console.log(readable, report.summary.errors);
 * ```
 */
import { DecoderInstance } from "./bindings.ts";
import { type VerifyFinding, type VerifyReport, VerifyReportSchema } from "./report_schema.ts";
import { checkShape } from "./shape.ts";
import { compileShape } from "./shape_compiled.ts";

export type {
  VerifyFinding,
  VerifyFlow,
  VerifyReport,
  VerifyRoute,
  VerifySession,
  VerifyWithdrawal,
} from "./report_schema.ts";
export { FINDING_KINDS, REPORT_SCHEMA_VERSION } from "./report_schema.ts";

/** Anything with `Deno.FsFile`'s `read`: fills `into`, resolves to bytes read or null at EOF. */
export interface ByteSource {
  read(into: Uint8Array): Promise<number | null>;
}

/** Decoding options. */
export interface DecodeOptions {
  /** UDP destination ports decoded as VXLAN besides 4789 (at most 7). */
  vxlanPorts?: readonly number[];
  /** Largest outer IP packet the underlay carries; larger VXLAN packets are findings. */
  underlayMtu?: number;
  /** Bytes read and handed to the decoder per call (default 1 MiB). */
  chunkSize?: number;
  /** Use the direct path for plain VXLAN frames (default true; tests compare both paths). */
  fastPath?: boolean;
  /**
   * Include the timeline (default true). With false the report's `timeline` is empty: the
   * text report does not print it, and writing, parsing and checking it is over half of a
   * large report's cost.
   */
  timeline?: boolean;
  /**
   * List at most 1024 routes and 256 withdrawals (default false; `summary.routes` and
   * `summary.withdrawals` still count them all): the text report shows no more, and a busy
   * fabric's capture or a `--rib` snapshot holds far more.
   */
  brief?: boolean;
  /**
   * Control-plane snapshot at the capture's start, as seed records (lib/verify/rib/encode.ts):
   * loaded before the first packet; the capture's UPDATEs apply on top.
   */
  snapshot?: Uint8Array;
  /** Called after each chunk with totals so far. */
  onProgress?: (progress: { bytes: number; packets: number }) => void;
  /** Called after a chunk that settled new findings, with them (as the report will list them,
   * with the counts so far). A finding is settled once what it is can no longer change (the
   * decoder says which, vd_findings_settled): a source MAC not advertised may still be advertised
   * late (a warning) for 2 s of capture time after its first frame, so it and the findings after
   * it wait for its route, that long, or the end. */
  onFindings?: (findings: VerifyFinding[]) => void;
}

/** What decoding produced. */
export interface DecodeResult {
  report: VerifyReport;
  /** False when the input is not a readable capture (unknown format, broken header). */
  readable: boolean;
  /** Linear memory of the decoder instance: its largest so far (WebAssembly memory never
   * shrinks, and instances are reused by later calls). */
  memoryBytes: number;
}

/** Largest record the decoder holds whole (wasm/src/wire/capture.rs MAX_RECORD_BYTES). */
const MAX_RECORD_BYTES = 1 << 20;
/** 1 MiB: small enough that the module's optimised code is used after a few calls. */
const DEFAULT_CHUNK = 1 << 20;

let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiles the embedded module once per process. */
function loadModule(): Promise<WebAssembly.Module> {
  compiled ??= import("./decoder_wasm.ts").then(({ DECODER_WASM_BASE64 }) =>
    WebAssembly.compile(decodeEmbedded(DECODER_WASM_BASE64))
  );
  return compiled;
}

function decodeEmbedded(b64: string): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array<ArrayBuffer> })
    .fromBase64;
  if (native) return native(b64);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Streams `source` through the decoder and returns the validated report.
 * Memory stays bounded: one input buffer of `chunkSize` + 1 MiB lives inside the module,
 * plus two read buffers of `chunkSize`.
 * @throws Error when the options are invalid or the module returns a malformed report.
 */
export async function decodeCapture(
  source: ByteSource,
  options: DecodeOptions = {},
): Promise<DecodeResult> {
  const ports = [...(options.vxlanPorts ?? [])];
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new Error(`failed to start the verify decoder: VXLAN port ${p} is not 1-65535`);
    }
  }
  const mtu = options.underlayMtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new Error(`failed to start the verify decoder: underlay MTU ${mtu} is not 68-65535`);
  }
  const chunk = options.chunkSize ?? DEFAULT_CHUNK;
  const wasm = idle.pop() ?? DecoderInstance.instantiate(await loadModule());
  const brief = options.brief ?? false;
  if (!wasm.start(ports, mtu, options.fastPath ?? true, options.timeline ?? true, brief)) {
    idle.push(wasm);
    throw new Error(`failed to start the verify decoder: more than 7 extra VXLAN ports`);
  }
  if (options.snapshot && options.snapshot.length > 0) {
    try {
      wasm.seed(options.snapshot);
    } catch (e) {
      idle.push(wasm);
      throw e;
    }
  }
  const result = await run(wasm, source, chunk, options.onProgress, options.onFindings);
  // Reused only after a clean run: a trap leaves the module's state undefined.
  if (idle.length < MAX_IDLE) idle.push(wasm);
  return result;
}

/** Instances kept for reuse: each one's memory only grows, so reuse bounds a process's total. */
const idle: DecoderInstance[] = [];
const MAX_IDLE = 2;

async function run(
  wasm: DecoderInstance,
  source: ByteSource,
  chunk: number,
  onProgress: DecodeOptions["onProgress"],
  onFindings: DecodeOptions["onFindings"],
): Promise<DecodeResult> {
  let findingsSeen = 0;
  // Module buffer: a chunk plus room for the unfinished record carried over from the last one.
  const capacity = chunk + MAX_RECORD_BYTES + 4096;
  const ptr = wasm.malloc(capacity);
  // Two JS read buffers: the next chunk is read (on Deno's I/O thread) while the module
  // decodes the current one. Reads never target module memory, which may grow meanwhile.
  const reads = [new Uint8Array(chunk), new Uint8Array(chunk)];
  let which = 0;
  let inflight = source.read(reads[which]);
  let filled = 0;
  let total = 0;
  while (true) {
    const n = await inflight;
    const eof = n === null;
    if (n) {
      wasm.getUint8Memory().set(reads[which].subarray(0, n), ptr + filled);
      filled += n;
    }
    if (!eof) {
      which ^= 1;
      inflight = source.read(reads[which]);
    }
    const consumed = wasm.feed(ptr, filled, eof);
    total += consumed;
    onProgress?.({ bytes: total, packets: wasm.packets() });
    if (onFindings && wasm.findings() > findingsSeen) {
      const fresh = JSON.parse(wasm.findingsSince(findingsSeen)) as VerifyFinding[];
      const settled = eof
        ? fresh.length
        : Math.min(fresh.length, Math.max(0, wasm.settledFindings() - findingsSeen));
      findingsSeen += settled;
      if (settled > 0) onFindings(fresh.slice(0, settled));
    }
    if (eof) break;
    if (wasm.unreadable()) {
      // Let the read in flight finish before the caller closes the source.
      await inflight.catch(() => null);
      break;
    }
    const rest = filled - consumed;
    if (rest > capacity - chunk) {
      throw new Error(`failed to decode the capture: a record does not fit in ${capacity} bytes`);
    }
    if (rest > 0 && consumed > 0) {
      wasm.getUint8Memory().copyWithin(ptr, ptr + consumed, ptr + filled);
    }
    filled = rest;
  }
  const readable = !wasm.unreadable();
  wasm.free(ptr, capacity);
  const text = wasm.takeReport();
  const memoryBytes = wasm.memoryBytes();
  return { report: validateReport(JSON.parse(text)), readable, memoryBytes };
}

/**
 * Checks a decoded report against the documented schema.
 * @throws Error naming the first problem when the module returned something else.
 */
export function validateReport(value: unknown): VerifyReport {
  isReport ??= compileShape(VerifyReportSchema);
  if (isReport(value)) return value as VerifyReport;
  // Rejected: walk the shape again to name the problem.
  const problem = checkShape(value, VerifyReportSchema) ?? "rejected by the compiled check";
  throw new Error(`failed to validate the verify report: ${problem}`);
}

/** The report schema as one generated predicate (built on first use). */
let isReport: ((value: unknown) => boolean) | undefined;
