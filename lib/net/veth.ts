import { CniError, ErrorCode } from "../cni/errors.ts";
import type { ResultRoute } from "../cni/result.ts";
import { ipIn } from "./netns.ts";
import { lastLine, run } from "./run.ts";

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
}

/**
 * Turns on arp_notify for interfaces made from now on in the pod netns (the `default` entry, as
 * the pod's interface does not exist yet), so bringing it up announces its addresses. Its own
 * process, run while IPAM works, so it costs the pod nothing on the critical path.
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

/**
 * Creates and configures the pod's interface with one `ip` process running inside the pod netns:
 * the veth pair is made with the pod end there and the host end directly in our own netns (by
 * /proc/PID/ns/net), up, so neither end is ever moved or renamed; then the pod end gets its MAC,
 * addresses, link up (arp_notify announces them) and routes.
 */
export async function createPodInterface(spec: PodInterfaceSpec): Promise<void> {
  const { hostVeth, ifname, netns, mtu, mac } = spec;
  const lines = [
    `link add ${hostVeth} mtu ${mtu} up netns /proc/${Deno.pid}/ns/net ` +
    `type veth peer name ${ifname} mtu ${mtu} address ${mac}`,
  ];
  for (const address of spec.addresses) {
    // The MAC is unique on the fabric, so IPv6 duplicate address detection only delays the pod.
    lines.push(`addr add ${address} dev ${ifname}${address.includes(":") ? " nodad" : ""}`);
  }
  lines.push(`link set ${ifname} up`);
  for (const route of spec.routes) {
    // ip infers the family from the addresses (batch lines take no -6).
    lines.push(`route add ${route.dst}${route.gw ? ` via ${route.gw}` : ""} dev ${ifname}`);
  }
  await ipBatch(ipIn(netns), lines, `set up "${ifname}" in netns "${netns}"`);
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
