import { CniError, ErrorCode } from "../cni/errors.ts";
import { ipIn } from "./netns.ts";
import { lastLine, run } from "./run.ts";

/** An interface as the kernel reports it inside a netns. */
export interface LinkState {
  ifname: string;
  mac: string;
  mtu: number;
  up: boolean;
  /** Addresses in CIDR form. */
  addresses: string[];
  /** The ifindex of a veth's other end (in the other netns). */
  peerIndex?: number;
}

/** A route as the kernel reports it; `dst` is CIDR ("default" becomes 0.0.0.0/0 or ::/0). */
export interface RouteState {
  dst: string;
  gw?: string;
}

async function ipJson(netns: string, args: string[]): Promise<unknown[]> {
  const [program, prefix] = ipIn(netns);
  const out = await run(program, [...prefix, "-json", ...args]);
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to read ${args.join(" ")} in netns "${netns}": ${lastLine(out.stderr)}`,
    );
  }
  return out.stdout.trim() === "" ? [] : JSON.parse(out.stdout) as unknown[];
}

/** Reads one interface inside a netns; undefined when it does not exist. */
export async function readLink(netns: string, ifname: string): Promise<LinkState | undefined> {
  let rows: unknown[];
  try {
    rows = await ipJson(netns, ["addr", "show", "dev", ifname]);
  } catch (e) {
    if (/does not exist|Cannot find device/.test((e as Error).message)) return undefined;
    throw e;
  }
  const row = rows[0] as {
    ifname: string;
    address: string;
    mtu: number;
    flags: string[];
    link_index?: number;
    addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
  } | undefined;
  if (!row) return undefined;
  return {
    ifname: row.ifname,
    mac: row.address,
    mtu: row.mtu,
    up: row.flags.includes("UP"),
    addresses: (row.addr_info ?? []).filter((a) => a.scope !== "link").map((a) =>
      `${a.local}/${a.prefixlen}`
    ),
    peerIndex: row.link_index,
  };
}

/** Reads the IPv4 and IPv6 routes through one interface inside a netns. */
export async function readRoutes(netns: string, ifname: string): Promise<RouteState[]> {
  const [v4, v6] = await Promise.all([
    ipJson(netns, ["-4", "route", "show", "dev", ifname]),
    ipJson(netns, ["-6", "route", "show", "dev", ifname]),
  ]);
  const toState = (family: 4 | 6) => (r: unknown): RouteState => {
    const { dst, gateway } = r as { dst: string; gateway?: string };
    const cidr = dst === "default"
      ? (family === 4 ? "0.0.0.0/0" : "::/0")
      : dst.includes("/")
      ? dst
      : `${dst}/${family === 4 ? 32 : 128}`;
    return gateway ? { dst: cidr, gw: gateway } : { dst: cidr };
  };
  return [...v4.map(toState(4)), ...v6.map(toState(6))];
}

/** The name of the link with this ifindex in the current netns (reads /sys, no spawn). */
export function linkNameByIndex(index: number): string | undefined {
  for (const entry of Deno.readDirSync("/sys/class/net")) {
    try {
      if (Number(Deno.readTextFileSync(`/sys/class/net/${entry.name}/ifindex`)) === index) {
        return entry.name;
      }
    } catch {
      // the link went away while we looked
    }
  }
  return undefined;
}
