/**
 * `verify --rib FILE`: reads a control-plane snapshot, tells its format from its content
 * (bagpipe-bgp looking glass, GoBGP, FRR) and normalises it into one route list.
 *
 * @example
 * ```ts
 * const snap = await loadSnapshot("rib.json");
 * console.log(snap.format, snap.routes.length);
 * ```
 */
import { isBagpipeLookingGlass, parseBagpipeLookingGlass } from "./bagpipe.ts";
import { isGobgpRib, parseGobgpRib } from "./gobgp.ts";
import { scanGobgpRib } from "./gobgp_scan.ts";
import { isFrrEvpn, parseFrrEvpn } from "./frr.ts";
import { type Snapshot, SnapshotError, type SnapshotFormat, type SnapshotRoute } from "./route.ts";
import { encodeRoutes, RouteEncodingError } from "./encode.ts";

/** Largest snapshot file read (a 100,000-route GoBGP table is ~70 MB). */
const MAX_SNAPSHOT_BYTES = 1 << 30;

/** Tells the format of a parsed snapshot document, or undefined when it is none of them. */
export function detectFormat(doc: unknown): SnapshotFormat | undefined {
  if (isGobgpRib(doc)) return "gobgp";
  if (isFrrEvpn(doc)) return "frr";
  if (isBagpipeLookingGlass(doc)) return "bagpipe-bgp";
  return undefined;
}

/**
 * Parses snapshot text of any supported format.
 * @throws SnapshotError naming `file` and what is wrong.
 */
export function parseSnapshot(file: string, text: string): Snapshot {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SnapshotError(file, `not JSON (${(e as Error).message})`);
  }
  const format = detectFormat(doc);
  if (!format) {
    throw new SnapshotError(
      file,
      "not a known EVPN table: expected bagpipe-bgp's looking glass routes, " +
        "`gobgp global rib -a evpn -j` (or per neighbour) or FRR's `show bgp l2vpn evpn json`",
    );
  }
  try {
    const parsed = format === "gobgp"
      ? parseGobgpRib(doc as Record<string, unknown>)
      : format === "frr"
      ? parseFrrEvpn(doc as Record<string, unknown>)
      : parseBagpipeLookingGlass(doc);
    return { file, format, ...parsed };
  } catch (e) {
    throw new SnapshotError(file, `${format} format: ${(e as Error).message}`);
  }
}

/**
 * Parses a snapshot file's bytes: a GoBGP table by the fast scan (gobgp_scan.ts), anything
 * else — and any GoBGP table the scan does not take — by `parseSnapshot`.
 * @throws SnapshotError naming `file` and what is wrong.
 */
export function parseSnapshotBytes(file: string, bytes: Uint8Array): Snapshot {
  const text = new TextDecoder().decode(bytes);
  const scanned = scanGobgpRib(bytes, text);
  if (scanned) return { file, format: "gobgp", ...scanned };
  return parseSnapshot(file, text);
}

/**
 * The file's bytes, read straight into one buffer of its size (`Deno.readFile` measured
 * ~20 ms slower on the 67 MB bench table). A file that grows meanwhile is read to its end.
 */
async function readSnapshotFile(file: string): Promise<Uint8Array> {
  // Checked before opening: opening a FIFO would wait for a writer.
  const info = await Deno.stat(file);
  if (!info.isFile) throw new Error("not a regular file");
  if (info.size > MAX_SNAPSHOT_BYTES) throw new Error(`larger than ${MAX_SNAPSHOT_BYTES} bytes`);
  using f = await Deno.open(file, { read: true });
  // One byte more than the size, so a read that fills it shows the file grew.
  let buf = new Uint8Array(info.size + 1);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      if (buf.length > MAX_SNAPSHOT_BYTES) {
        throw new Error(`larger than ${MAX_SNAPSHOT_BYTES} bytes`);
      }
      const grown = new Uint8Array(buf.length * 2);
      grown.set(buf);
      buf = grown;
    }
    const got = await f.read(buf.subarray(n));
    if (got === null) return buf.subarray(0, n);
    n += got;
  }
}

/**
 * Reads and parses one snapshot file.
 * @throws SnapshotError naming the file and what is wrong (unreadable, not JSON, unknown format,
 * a route that is not what the program prints).
 */
export async function loadSnapshot(file: string): Promise<Snapshot> {
  let bytes: Uint8Array;
  try {
    bytes = await readSnapshotFile(file);
  } catch (e) {
    throw new SnapshotError(file, `cannot be read: ${(e as Error).message}`);
  }
  return parseSnapshotBytes(file, bytes);
}

/**
 * The routes of several snapshots as the decoder's seed records.
 * @throws SnapshotError naming the snapshot and the route that cannot be encoded.
 */
export function snapshotRecords(snapshots: readonly Snapshot[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of snapshots) {
    try {
      parts.push(encodeRoutes(s.routes));
    } catch (e) {
      if (e instanceof RouteEncodingError) throw new SnapshotError(s.file, e.message);
      throw e;
    }
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export type { Snapshot, SnapshotRoute };
export { SnapshotError };
