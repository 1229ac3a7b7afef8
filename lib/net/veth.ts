import { CniError, ErrorCode } from "../cni/errors.ts";
import type { ResultRoute } from "../cni/result.ts";
import { ipIn } from "./netns.ts";
import { lastLine, run } from "./run.ts";

async function ipBatch(
  prefix: [string, string[]],
  lines: string[],
  what: string,
  whileRunning?: () => void,
): Promise<void> {
  const [program, args] = prefix;
  const out = await run(program, [...args, "-batch", "-"], {
    stdin: lines.join("\n") + "\n",
    inputSent: whileRunning,
  });
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

/** Everything the pod's interface gets, known once IPAM has answered. */
export interface PodInterfaceSpec {
  /** The host end's name (derived from the pod's address, see hostVethFor). */
  hostVeth: string;
  ifname: string;
  netns: string;
  mtu: number;
  mac: string;
  addresses: string[];
  routes: ResultRoute[];
  /** The bridge (in our netns) the host end is made in, so plugging it costs no process. */
  bridge?: string;
}

/**
 * Turns on arp_notify for interfaces made from now on in the pod netns (the `default` entry, as
 * the pod's interface does not exist yet), so bringing it up announces its addresses. Its own
 * process, run while IPAM works: off the critical path, though on a 2-core node it shares the
 * cores with host-local (ADD measured no faster without it).
 */
export async function enableArpNotify(netns: string): Promise<void> {
  const out = await run("nsenter", [
    `--net=${netns}`,
    "sysctl",
    "-qw",
    "net.ipv4.conf.default.arp_notify=1",
  ]);
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to turn on arp_notify in netns "${netns}": ${lastLine(out.stderr)}`,
    );
  }
}

/** The pod interface's neighbour resolution: a try every 100 ms, 30 of them. */
const FAST_NEIGHBOUR_RETRIES = "retrans 100 mcast_probes 30";

/**
 * Creates and configures the pod's interface with one `ip` process running inside the pod netns:
 * the veth pair is made with the pod end there and the host end directly in our own netns (by
 * /proc/PID/ns/net), up, so neither end is ever moved or renamed; then the pod end gets its MAC,
 * addresses, fast neighbour retries, link up (arp_notify announces them) and routes.
 * `whileRunning` is called once `ip` has its commands, while it works.
 */
export async function createPodInterface(
  spec: PodInterfaceSpec,
  whileRunning?: () => void,
): Promise<void> {
  const { hostVeth, ifname, netns, mtu, mac } = spec;
  // The host end lives in our netns, where `ip` (in the pod's) cannot look the bridge up by
  // name; iproute2 takes "if<index>" for a name it does not find, and the kernel resolves the
  // index in the netns the host end is made in. Without an index, the backend plugs it later.
  const bridgeIndex = spec.bridge && readIfindex(spec.bridge);
  const lines = [
    `link add ${hostVeth} mtu ${mtu} up netns /proc/${Deno.pid}/ns/net` +
    `${bridgeIndex ? ` master if${bridgeIndex}` : ""} ` +
    `type veth peer name ${ifname} mtu ${mtu} address ${mac}`,
  ];
  for (const address of spec.addresses) {
    // The MAC is unique on the fabric, so IPv6 duplicate address detection only delays the pod.
    lines.push(`addr add ${address} dev ${ifname}${address.includes(":") ? " nodad" : ""}`);
  }
  // ARP (and ND) retried every 100 ms instead of every second, 30 times instead of 3 (the same
  // 3 s before giving up): a pod's first ARP towards a pod just started on a node new to the
  // network can leave before that node's inclusive-multicast route is in this node's VXLAN flood
  // list, and the next try came a second later (measured: ~1 in 24 first contacts took ~1 s).
  lines.push(`ntable change name arp_cache dev ${ifname} ${FAST_NEIGHBOUR_RETRIES}`);
  if (spec.addresses.some((a) => a.includes(":"))) {
    lines.push(`ntable change name ndisc_cache dev ${ifname} ${FAST_NEIGHBOUR_RETRIES}`);
  }
  lines.push(`link set ${ifname} up`);
  for (const route of spec.routes) {
    // ip infers the family from the addresses (batch lines take no -6).
    lines.push(`route add ${route.dst}${route.gw ? ` via ${route.gw}` : ""} dev ${ifname}`);
  }
  await ipBatch(ipIn(netns), lines, `set up "${ifname}" in netns "${netns}"`, whileRunning);
}

/** A link's index in the current netns, read from /sys; undefined when it does not exist. */
export function readIfindex(name: string): number | undefined {
  try {
    const index = Number(Deno.readTextFileSync(`/sys/class/net/${name}/ifindex`));
    return Number.isInteger(index) && index > 0 ? index : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Deletes a link in the current netns; a link that does not exist is not an error. With
 * `byIndex`, the link is named by its index ("if<N>"), which the kernel never gives to another
 * link soon: a link made later under the same name (an address reused) is never deleted instead.
 */
export async function deleteLink(name: string, byIndex = false): Promise<void> {
  let target = name;
  if (byIndex) {
    const index = readIfindex(name);
    if (index === undefined) return;
    target = `if${index}`;
  }
  const out = await run("ip", ["link", "del", target]);
  if (out.code !== 0 && !/Cannot find device|does not exist|No such device/.test(out.stderr)) {
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
