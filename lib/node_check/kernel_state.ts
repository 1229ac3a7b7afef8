/**
 * What the node's kernel forwards on, read with iproute2's JSON output: links (which bridge a
 * port is plugged into, which VXLAN devices exist and their VNI), and per VXLAN device the
 * forwarding database (`bridge -j fdb show dev D`) and neighbour table (`ip -j neigh show dev D`).
 */
import { lastLine, run, type RunResult } from "../net/run.ts";

/** Runs a program with an argument array; the node check's only way to the kernel. */
export type CommandRunner = (program: string, args: string[]) => Promise<RunResult>;

/** One network interface of the node. */
export interface KernelLink {
  name: string;
  /** `linkinfo.info_kind`: "veth", "bridge", "vxlan", ... (undefined for plain devices). */
  kind?: string;
  /** The bridge it is plugged into. */
  master?: string;
  mac: string;
  /** VXLAN only: its VNI and local (VTEP) address. */
  vni?: number;
  local?: string;
}

/** One `bridge fdb` entry on a device. */
export interface FdbEntry {
  mac: string;
  /** The remote VTEP of a VXLAN device's own ("self") entry. */
  dst?: string;
  /** A VXLAN device's own entry (`self`), as opposed to the bridge's learned/static entry. */
  self: boolean;
  state: string;
}

/** One neighbour (ARP/NDP) entry on a device. */
export interface NeighEntry {
  ip: string;
  mac?: string;
  states: string[];
}

/** Thrown when a command could not be run or its output not read; names the command. */
export class KernelReadError extends Error {
  override readonly name = "KernelReadError";
}

/** Every link of the node, by name. */
export async function readLinks(runner: CommandRunner = run): Promise<Map<string, KernelLink>> {
  const rows = await _json(runner, "ip", ["-j", "-d", "link", "show"]);
  const links = new Map<string, KernelLink>();
  for (const row of rows) {
    const info = (row.linkinfo ?? {}) as {
      info_kind?: string;
      info_data?: Record<string, unknown>;
    };
    const link: KernelLink = { name: String(row.ifname), mac: String(row.address ?? "") };
    if (typeof info.info_kind === "string") link.kind = info.info_kind;
    if (typeof row.master === "string") link.master = row.master;
    if (info.info_kind === "vxlan" && info.info_data) {
      if (Number.isInteger(info.info_data.id)) link.vni = info.info_data.id as number;
      if (typeof info.info_data.local === "string") link.local = info.info_data.local;
    }
    links.set(link.name, link);
  }
  return links;
}

/** The forwarding database entries on one device. */
export async function readFdb(device: string, runner: CommandRunner = run): Promise<FdbEntry[]> {
  const rows = await _json(runner, "bridge", ["-j", "fdb", "show", "dev", device]);
  return rows.map((row) => {
    const entry: FdbEntry = {
      mac: String(row.mac).toLowerCase(),
      self: Array.isArray(row.flags) && row.flags.includes("self"),
      state: String(row.state ?? ""),
    };
    if (typeof row.dst === "string") entry.dst = row.dst;
    return entry;
  });
}

/** The neighbour entries on one device. */
export async function readNeigh(
  device: string,
  runner: CommandRunner = run,
): Promise<NeighEntry[]> {
  const rows = await _json(runner, "ip", ["-j", "neigh", "show", "dev", device]);
  return rows.map((row) => {
    const entry: NeighEntry = {
      ip: String(row.dst),
      states: Array.isArray(row.state) ? row.state.map(String) : [],
    };
    if (typeof row.lladdr === "string") entry.mac = row.lladdr.toLowerCase();
    return entry;
  });
}

async function _json(
  runner: CommandRunner,
  program: string,
  args: string[],
): Promise<Record<string, unknown>[]> {
  const what = `${program} ${args.join(" ")}`;
  let out: RunResult;
  try {
    out = await runner(program, args);
  } catch (e) {
    throw new KernelReadError(`failed to run ${what}: ${(e as Error).message}`);
  }
  if (out.code !== 0) {
    throw new KernelReadError(`${what} exited ${out.code}: ${lastLine(out.stderr)}`);
  }
  if (out.stdout.trim() === "") return [];
  try {
    const rows = JSON.parse(out.stdout);
    if (Array.isArray(rows)) return rows as Record<string, unknown>[];
  } catch {
    // reported below
  }
  throw new KernelReadError(`${what} did not print a JSON list: ${out.stdout.slice(0, 80)}`);
}
