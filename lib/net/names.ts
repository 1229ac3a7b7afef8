import { fnv1a } from "../cni/config.ts";

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0").slice(-width);

function ipv4Bytes(address: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)/.exec(address);
  return m ? m.slice(1, 5).map(Number) : undefined;
}

/** A 32-bit number that stands for an address: the IPv4 itself, or a hash of an IPv6 one. */
function addressKey(address: string): number {
  const bytes = ipv4Bytes(address);
  return bytes
    ? ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
    : fnv1a(address);
}

/**
 * The pod's MAC, derived from its address as OVN-Kubernetes does (0a:58:IPv4). The stock daemon
 * keeps a stale endpoint after every detach (bug B1) and refuses the same IP with another MAC;
 * deriving the MAC from the IP makes a pod that reuses an address look like the same endpoint.
 */
export function podMacFor(address: string): string {
  const key = addressKey(address);
  return [
    "0a",
    "58",
    hex(key >>> 24, 2),
    hex((key >>> 16) & 0xff, 2),
    hex((key >>> 8) & 0xff, 2),
    hex(key & 0xff, 2),
  ]
    .join(":");
}

/**
 * The host end of the pod's veth: unique per (VPN instance, address) on a node, and the same name
 * whenever the address is reused, for the same reason as podMacFor (the daemon binds a MAC to one
 * port name for good).
 */
export function hostVethFor(instanceId: string, address: string): string {
  return `bc${hex(fnv1a(instanceId), 4)}${hex(addressKey(address), 8)}`;
}

/**
 * The network's bridge, made by the plugin (README, "Kubernetes network model"). Not `evpn---*`: bagpipe-bgp deletes
 * those when it restarts. Instance ids have at most 8 characters, so it fits IFNAMSIZ.
 */
export function bridgeNameFor(instanceId: string): string {
  return `bpbr-${instanceId}`;
}

/** The network's VXLAN device, made by the plugin; not `vxlan--*`, which the daemon deletes. */
export function vxlanNameFor(instanceId: string): string {
  return `bpvx-${instanceId}`;
}
