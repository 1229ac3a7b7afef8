/**
 * What each node's bagpipe-bgp reports through its looking glass after the pods are up: the
 * VPN instance with its VNI and route targets, and the EVPN routes it received from the fabric.
 */
import { parseInstance, type VpnInstanceDetail } from "../bagpipe/looking_glass.ts";
import type { Fabric, FabricNode } from "../fabric/fabric.ts";

/** One EVPN route a node received, read from the looking glass's route text. */
export interface ReceivedRoute {
  /** "MAC/IP" (type 2) or "multicast" (type 3); anything else keeps the daemon's word. */
  kind: string;
  mac?: string;
  ip?: string;
  nextHop: string;
}

/** One node's view of a VPN instance. */
export interface NodeFacts {
  node: FabricNode;
  instance: VpnInstanceDetail;
  received: ReceivedRoute[];
}

/** Reads instance `instanceId` and its received routes from the node's looking glass. */
export async function nodeFacts(
  fabric: Fabric,
  node: FabricNode,
  instanceId: string,
): Promise<NodeFacts> {
  const base = `/looking-glass/vpns/instances/${encodeURIComponent(instanceId)}`;
  const detail = await fabric.api(node, "GET", base);
  if (detail.status !== 200) {
    throw new Error(
      `looking glass of ${node.name} has no VPN instance "${instanceId}" (HTTP ${detail.status})`,
    );
  }
  const parsed = parseInstance(detail.body);
  if (!parsed.ok) {
    throw new Error(`looking glass of ${node.name}, instance "${instanceId}": ${parsed.problem}`);
  }
  const routes = await fabric.api(node, "GET", `${base}/received_routes`);
  if (routes.status !== 200) {
    throw new Error(`received_routes of ${node.name} answered HTTP ${routes.status}`);
  }
  return { node, instance: parsed.value, received: parseReceivedRoutes(routes.body) };
}

/**
 * Flattens `received_routes` (`{"('MAC', …)": [{"evpn:macadv::…": {next_hop, …}}]}`) into
 * routes; entries it cannot read are kept as kind "unreadable" rather than dropped.
 */
export function parseReceivedRoutes(body: unknown): ReceivedRoute[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return [];
  const routes: ReceivedRoute[] = [];
  for (const entries of Object.values(body)) {
    for (const entry of Array.isArray(entries) ? entries : []) {
      for (const [text, info] of Object.entries(entry ?? {})) {
        const nextHop = String((info as Record<string, unknown>)?.next_hop ?? "?");
        const mac = /^evpn:macadv::.*?:([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\/48:([0-9.]*):/
          .exec(text);
        if (mac) {
          routes.push({
            kind: "MAC/IP",
            mac: mac[1]!.toLowerCase(),
            ip: mac[2] || undefined,
            nextHop,
          });
        } else if (text.startsWith("evpn:multicast:")) {
          routes.push({ kind: "multicast", nextHop });
        } else {
          routes.push({ kind: text.split(":").slice(0, 2).join(":") || "unreadable", nextHop });
        }
      }
    }
  }
  return routes.sort((a, b) =>
    `${a.kind}${a.ip}${a.nextHop}`.localeCompare(`${b.kind}${b.ip}${b.nextHop}`)
  );
}

/** "MAC/IP 0a:58:0a:1b:02:01 10.27.2.1 via 10.199.0.12" */
export function describeRoute(route: ReceivedRoute): string {
  return route.kind === "MAC/IP"
    ? `MAC/IP ${route.mac} ${route.ip ?? "(no IP)"} via ${route.nextHop}`
    : `${route.kind} via ${route.nextHop}`;
}
