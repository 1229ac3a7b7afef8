/**
 * bagpipe-bgp's looking glass (asked with `Accept: application/json`): an instance's
 * `received_routes` (an object of lists), `adv_routes` (a list) or `best_routes`, alone or
 * gathered in one document (as `verify --live` does: `{instances: {ID: {received_routes,
 * adv_routes}}}`). Each route is one entry `"evpn:macadv::RD:ESI:ETAG:MAC/48:IP: label L (VNI)"`
 * or `"evpn:multicast::RD:ETAG:ORIGINATOR"` → `{next_hop, attributes: {extended-community,
 * pmsi-tunnel}, route_targets}`.
 */
import { isObject, type JsonObject, type SnapshotRoute } from "./route.ts";

const MACADV =
  /^evpn:macadv::(.+?:\d+):(-|[0-9a-fA-F:]+?):(\d+):((?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})\/48:(.*?): label \d+ \((\d+)\)$/;
const MULTICAST = /^evpn:multicast::(.+?:\d+):(\d+):(.+)$/;
const PMSI = /^pmsi:ingressreplication:\d+:\d+\((\d+)\):(.+)$/;
/** How deep the walk looks for route entries in a gathered document. */
const MAX_DEPTH = 8;

/** True when `doc` holds at least one looking-glass EVPN route entry. */
export function isBagpipeLookingGlass(doc: unknown): boolean {
  let found = false;
  walk(doc, 0, () => {
    found = true;
  });
  return found;
}

function walk(v: unknown, depth: number, onEntry: (key: string, value: JsonObject) => void): void {
  if (depth > MAX_DEPTH) return;
  if (Array.isArray(v)) {
    for (const x of v) walk(x, depth + 1, onEntry);
    return;
  }
  if (!isObject(v)) return;
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith("evpn:") && isObject(x) && "next_hop" in x) onEntry(k, x);
    else walk(x, depth + 1, onEntry);
  }
}

function stripTarget(rt: unknown): string {
  return String(rt).replace(/^target:/, "");
}

/**
 * Routes of every looking-glass entry in `doc`; `skipped` counts EVPN entries of other types.
 * @throws Error naming the entry that is not what bagpipe-bgp 17 prints.
 */
export function parseBagpipeLookingGlass(
  doc: unknown,
): { routes: SnapshotRoute[]; skipped: number } {
  const routes: SnapshotRoute[] = [];
  let skipped = 0;
  let problem: string | undefined;
  walk(doc, 0, (key, entry) => {
    if (problem) return;
    const where = `entry "${key}"`;
    const nextHop = entry.next_hop;
    if (typeof nextHop !== "string") {
      problem = `${where}: next_hop is not a string`;
      return;
    }
    const rts = Array.isArray(entry.route_targets) ? entry.route_targets.map(stripTarget) : [];
    const attrs = isObject(entry.attributes) ? entry.attributes : {};
    const m = MACADV.exec(key);
    if (m) {
      if (m[2] !== "-") {
        problem = `${where}: ESI ${m[2]} (multi-homing) is not supported`;
        return;
      }
      const ip = m[5] === "" || m[5] === "None" ? undefined : m[5];
      routes.push({
        type: 2,
        rd: m[1]!,
        ethernetTag: Number(m[3]),
        mac: m[4]!,
        ip,
        nextHop,
        vni: Number(m[6]),
        routeTargets: rts,
      });
      return;
    }
    const mc = MULTICAST.exec(key);
    if (mc) {
      const pmsi = PMSI.exec(String(attrs["pmsi-tunnel"] ?? ""));
      if (!pmsi) {
        problem = `${where}: pmsi-tunnel "${attrs["pmsi-tunnel"]}" is not ingress replication`;
        return;
      }
      routes.push({
        type: 3,
        rd: mc[1]!,
        ethernetTag: Number(mc[2]),
        originator: mc[3]!,
        nextHop,
        pmsiEndpoint: pmsi[2],
        vni: Number(pmsi[1]),
        routeTargets: rts,
      });
      return;
    }
    if (/^evpn:(macadv|multicast)::/.test(key)) {
      problem = `${where}: not in bagpipe-bgp's route format`;
      return;
    }
    skipped++;
  });
  if (problem) throw new Error(problem);
  return { routes, skipped };
}
