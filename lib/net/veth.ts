import { CniError, ErrorCode } from "../cni/errors.ts";
import type { ResultRoute } from "../cni/result.ts";
import { ipIn, netnsName } from "./netns.ts";
import { lastLine, run } from "./run.ts";

/** What the pod's veth pair looks like before it has an address. */
export interface VethSpec {
  /** The host end's name while IPAM runs (the final name depends on the address). */
  hostVeth: string;
  ifname: string;
  netns: string;
  mtu: number;
}

async function ipBatch(prefix: [string, string[]], lines: string[], what: string): Promise<void> {
  const [program, args] = prefix;
  const out = await run(program, [...args, "-batch", "-"], { stdin: lines.join("\n") + "\n" });
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to ${what}: ${batchFailure(lines, out.stderr, out.code)}`,
    );
  }
}

/** Names the batch line that failed and the kernel's reason ("ip -batch" prints them apart). */
export function batchFailure(lines: string[], stderr: string, code: number): string {
  const failed = /Command failed -:(\d+)/.exec(stderr);
  const reasons = stderr.split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("Command failed")
  );
  const line = failed ? lines[Number(failed[1]) - 1] : undefined;
  const reason = reasons.join("; ") || `ip exited ${code}`;
  return line ? `"${line}": ${reason}` : reason;
}

/**
 * Creates the veth pair with the container end made directly inside the pod's netns (never
 * moved), both ends down, and turns on arp_notify in the pod so that bringing the interface up
 * later announces its address. One `ip` process does all of it; it runs while IPAM works.
 */
export async function createVeth(spec: VethSpec): Promise<void> {
  const { hostVeth, ifname, netns, mtu } = spec;
  const arpNotify = `net.ipv4.conf.${ifname.replaceAll(".", "/")}.arp_notify=1`;
  const name = netnsName(netns);
  const lines = [
    `link add ${hostVeth} mtu ${mtu} type veth peer name ${ifname} mtu ${mtu} netns ${netns}`,
  ];
  if (name) lines.push(`netns exec ${name} sysctl -qw ${arpNotify}`);
  await ipBatch(
    ["ip", []],
    lines,
    `create veth pair "${hostVeth}"/"${ifname}" in netns "${netns}"`,
  );
  if (!name) {
    const out = await run("nsenter", [`--net=${netns}`, "sysctl", "-qw", arpNotify]);
    if (out.code !== 0) {
      throw new CniError(
        ErrorCode.LinkSetupFailed,
        `failed to set arp_notify on "${ifname}" in netns "${netns}": ${lastLine(out.stderr)}`,
      );
    }
  }
}

/** Gives the host end its final name (a link must be down to be renamed) and brings it up. */
export async function renameAndUp(from: string, to: string): Promise<void> {
  await ipBatch(
    ["ip", []],
    [`link set ${from} name ${to}`, `link set ${to} up`],
    `rename "${from}" to "${to}"`,
  );
}

/** The pod side: MAC, addresses, then link up (so arp_notify announces them), then routes. */
export interface PodL3 {
  mac: string;
  addresses: string[];
  routes: ResultRoute[];
}

/** Configures addresses and routes on the pod's interface inside its netns, in one `ip` process. */
export async function configurePodInterface(
  netns: string,
  ifname: string,
  l3: PodL3,
): Promise<void> {
  const lines: string[] = [`link set ${ifname} address ${l3.mac}`];
  for (const address of l3.addresses) {
    // The MAC is unique on the fabric, so IPv6 duplicate address detection only delays the pod.
    lines.push(`addr add ${address} dev ${ifname}${address.includes(":") ? " nodad" : ""}`);
  }
  lines.push(`link set ${ifname} up`);
  for (const route of l3.routes) {
    // ip infers the family from the addresses (batch lines take no -6).
    lines.push(`route add ${route.dst}${route.gw ? ` via ${route.gw}` : ""} dev ${ifname}`);
  }
  await ipBatch(ipIn(netns), lines, `configure "${ifname}" in netns "${netns}"`);
}

/** Deletes a link in the current netns; a link that does not exist is not an error. */
export async function deleteLink(name: string): Promise<void> {
  const out = await run("ip", ["link", "del", name]);
  if (out.code !== 0 && !/Cannot find device|does not exist/.test(out.stderr)) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to delete link "${name}": ${lastLine(out.stderr)}`,
    );
  }
}

/** True when a link of that name exists in the current netns (reads /sys, no spawn). */
export function linkExists(name: string): boolean {
  try {
    Deno.statSync(`/sys/class/net/${name}`);
    return true;
  } catch {
    return false;
  }
}
