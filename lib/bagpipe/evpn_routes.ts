/**
 * EVPN routes as bagpipe-bgp 17's looking glass lists them (`vpns/instances/<id>/received_routes`
 * and `.../adv_routes`). The route itself is only in the text of a key, e.g.
 * `evpn:macadv::10.199.0.12:0:-:0:0A:58:0A:29:02:0A/48:10.41.2.10: label 1 (16)` or
 * `evpn:multicast::10.199.0.12:0:0:10.199.0.12`, with `next_hop` and attributes beside it.
 *
 * Kept out of BagpipeClient on purpose: the client is on the plugin's path, route listing is not.
 */
import { BagpipeError } from "./errors.ts";
import { callContext, callDaemon, fetchExchange } from "./transport.ts";

/** One EVPN route: type 2 (MAC/IP advertisement), type 3 (inclusive multicast) or other. */
export interface EvpnRoute {
  type: "mac_ip" | "multicast" | "other";
  /** Route distinguisher "a.b.c.d:n". */
  rd: string;
  /** Lower-case MAC of a type-2 route. */
  mac?: string;
  /** IP of a type-2 route, when it carries one. */
  ip?: string;
  /** The VXLAN VNI the route carries (type 2: the label; type 3: the PMSI tunnel's label). */
  vni?: number;
  /** The VTEP: the route's BGP next hop. */
  nextHop: string;
  /** The looking glass's text of the route, kept to name it in messages. */
  text: string;
}

// The IP runs to the last ":" before the label, so an IPv6 address keeps its colons.
const MAC_IP =
  /^evpn:macadv::(\S+?:\d+):[^:]*:\d+:([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\/48:(.*):(?: label \d+(?: \((\d+)\))?)?$/;
const MULTICAST = /^evpn:multicast::(\S+?:\d+):/;

/** Reads one route from its looking-glass key and the attributes object beside it. */
export function parseEvpnRoute(text: string, info: unknown): EvpnRoute {
  const attributes = _record(_record(info).attributes);
  const nextHop = String(_record(info).next_hop ?? "");
  const macIp = MAC_IP.exec(text);
  if (macIp) {
    const route: EvpnRoute = {
      type: "mac_ip",
      rd: macIp[1]!,
      mac: macIp[2]!.toLowerCase(),
      nextHop,
      text,
    };
    if (macIp[3]) route.ip = macIp[3];
    if (macIp[4]) route.vni = Number(macIp[4]);
    return route;
  }
  const multicast = MULTICAST.exec(text);
  if (multicast) {
    const route: EvpnRoute = { type: "multicast", rd: multicast[1]!, nextHop, text };
    const pmsi = /\((\d+)\)/.exec(String(attributes["pmsi-tunnel"] ?? ""));
    if (pmsi) route.vni = Number(pmsi[1]);
    return route;
  }
  return { type: "other", rd: "", nextHop, text };
}

/**
 * Flattens `received_routes` (`{"('MAC', …)": [{<route text>: {next_hop, attributes}}]}`) or
 * `adv_routes` (`[{<route text>: {...}}]`) into routes.
 * @returns the routes, or a string saying what in the answer has an unexpected shape.
 */
export function parseEvpnRoutes(json: unknown): EvpnRoute[] | string {
  const groups = Array.isArray(json)
    ? [json]
    : typeof json === "object" && json !== null
    ? Object.values(json)
    : undefined;
  if (groups === undefined) return `route list is neither an object nor an array`;
  const routes: EvpnRoute[] = [];
  for (const group of groups) {
    if (!Array.isArray(group)) return `route group is not an array: ${String(group).slice(0, 60)}`;
    for (const entry of group) {
      for (const [text, info] of Object.entries(_record(entry))) {
        routes.push(parseEvpnRoute(text, info));
      }
    }
  }
  return routes;
}

function _record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

/**
 * Lists the EVPN routes one VPN instance received from its peers ("received") or advertises
 * ("advertised"); null when the daemon has no such instance.
 * @throws {BagpipeError} as BagpipeClient's calls do (unreachable, timeout, bad-response, ...).
 */
export async function fetchInstanceRoutes(
  baseUrl: URL,
  vpnInstanceId: string,
  which: "received" | "advertised",
  opts: { timeoutMs: number; fetch?: typeof fetch },
): Promise<EvpnRoute[] | null> {
  const leaf = which === "received" ? "received_routes" : "adv_routes";
  const call = {
    method: "GET" as const,
    path: `looking-glass/vpns/instances/${encodeURIComponent(vpnInstanceId)}/${leaf}`,
    operation: "list",
    subject: `${which} routes of VPN instance ${JSON.stringify(vpnInstanceId)}`,
    timeoutMs: opts.timeoutMs,
  };
  let json: unknown;
  try {
    json = (await callDaemon(fetchExchange(opts.fetch ?? globalThis.fetch), baseUrl, call)).json;
  } catch (error) {
    // The instance went away between listing and reading (its last port detached).
    if (
      error instanceof BagpipeError && error.status === 404 &&
      error.detail.startsWith("No such looking glass object")
    ) {
      return null;
    }
    throw error;
  }
  const routes = parseEvpnRoutes(json);
  if (typeof routes === "string") {
    throw new BagpipeError("bad-response", callContext(baseUrl, call), routes, { status: 200 });
  }
  return routes;
}
