/**
 * What a runtime says about the pod beyond CNI_CONTAINERID/CNI_NETNS: the CNI_ARGS keys kubelet's
 * runtimes (containerd, CRI-O) and podman send, and the runtimeConfig capability arguments.
 */
import { CniError, ErrorCode } from "./errors.ts";

/** Who the pod is, as the runtime names it (CNI_ARGS K8S_POD_*; podman sends its name only). */
export interface PodIdentity {
  namespace?: string;
  name?: string;
  uid?: string;
  /** The sandbox ("pause") container's ID (containerd, CRI-O). */
  infraContainerId?: string;
}

/** The pod's identity from CNI_ARGS; undefined when the runtime sent none of its keys. */
export function podIdentity(args: Record<string, string>): PodIdentity | undefined {
  const pod: PodIdentity = {};
  if (args.K8S_POD_NAMESPACE) pod.namespace = args.K8S_POD_NAMESPACE;
  if (args.K8S_POD_NAME) pod.name = args.K8S_POD_NAME;
  if (args.K8S_POD_UID) pod.uid = args.K8S_POD_UID;
  if (args.K8S_POD_INFRA_CONTAINER_ID) pod.infraContainerId = args.K8S_POD_INFRA_CONTAINER_ID;
  return Object.keys(pod).length > 0 ? pod : undefined;
}

/** "namespace/name" (kubectl's way of naming a pod), or the name alone; undefined without a name. */
export function podLabel(pod: PodIdentity | undefined): string | undefined {
  if (!pod?.name) return undefined;
  return pod.namespace ? `${pod.namespace}/${pod.name}` : pod.name;
}

/** An address without its prefix length, as IPAM results and requests are compared. */
function bareIp(address: string): string {
  return address.split("/")[0]!.toLowerCase();
}

/**
 * The addresses the runtime asked for: CNI_ARGS `IP` (podman's `--ip`, comma-separated) and
 * `runtimeConfig.ips` (the `ips` capability). IPAM does the asking (host-local reads both);
 * this is what ADD checks its answer against.
 */
export function requestedIps(
  args: Record<string, string>,
  runtimeConfig: Record<string, unknown> | undefined,
): string[] {
  const out = new Set<string>();
  for (const ip of (args.IP ?? "").split(",")) if (ip.trim()) out.add(bareIp(ip.trim()));
  const ips = runtimeConfig?.ips;
  if (Array.isArray(ips)) { for (const ip of ips) if (typeof ip === "string") out.add(bareIp(ip)); }
  return [...out];
}

/**
 * Throws code 7 unless IPAM assigned every requested address: an IPAM plugin that ignores the
 * request would otherwise give the pod another address without a word.
 */
export function checkRequestedIps(requested: string[], assigned: string[], ipam: string): void {
  const got = new Set(assigned.map(bareIp));
  const missing = requested.filter((ip) => !got.has(ip));
  if (missing.length > 0) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `IPAM plugin ${ipam} did not assign the requested address(es) ${missing.join(", ")}`,
      `it assigned ${assigned.join(", ") || "nothing"}; host-local honours CNI_ARGS IP= and ` +
        `runtimeConfig.ips (declare the "ips" capability in the conflist)`,
    );
  }
}

/** A requested MAC and where it came from (CNI_ARGS `MAC`, or `runtimeConfig.mac`). */
export interface RequestedMac {
  mac: string;
  source: string;
}

/** The MAC the runtime asked for, if any; runtimeConfig wins, as in the CNI conventions. */
export function requestedMac(
  args: Record<string, string>,
  runtimeConfig: Record<string, unknown> | undefined,
): RequestedMac | undefined {
  const fromConfig = runtimeConfig?.mac;
  if (typeof fromConfig === "string" && fromConfig !== "") {
    return { mac: fromConfig, source: "runtimeConfig.mac" };
  }
  if (args.MAC) return { mac: args.MAC, source: "CNI_ARGS MAC" };
  return undefined;
}

/**
 * The rule for a requested MAC: the pod's MAC is always the one derived from its address
 * (0a:58 + IPv4), so a requested MAC is honoured when it is that MAC and refused (code 2)
 * otherwise. bagpipe-bgp 17 binds a MAC to an IP for good (bug B1): a pod given another MAC
 * would make its address unusable for every later pod on that node.
 */
export function checkRequestedMac(
  requested: RequestedMac | undefined,
  derived: string,
  address: string,
): void {
  if (!requested || requested.mac.toLowerCase() === derived) return;
  throw new CniError(
    ErrorCode.UnsupportedField,
    `requested MAC ${requested.mac} (${requested.source}) refused: the pod's MAC is derived from ` +
      `its address, ${derived} for ${bareIp(address)}`,
    "bagpipe-bgp 17 keeps a MAC bound to an IP after the pod is gone (bug B1), so another MAC " +
      "would make the address unusable for later pods; request no MAC, or the derived one",
  );
}
