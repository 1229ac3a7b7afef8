/**
 * GoBGP's EVPN table as `gobgp global rib -a evpn -j` or `gobgp neighbor ADDR adj-in|adj-out
 * -a evpn -j` prints it: an object from route key to the list of paths, each with `nlri`
 * (`{type, value: {rd: {admin, assigned}, etag, mac, ip, labels}}`) and `attrs` (type 14
 * `nexthop`, type 16 extended communities, type 22 PMSI tunnel).
 */
import { isObject, type JsonObject, type SnapshotRoute } from "./route.ts";

/** True when `doc` looks like GoBGP's JSON: route keys `[type:...][rd:...]` with path lists. */
export function isGobgpRib(doc: unknown): boolean {
  if (!isObject(doc)) return false;
  const keys = Object.keys(doc);
  return keys.length > 0 && keys.every((k) => k.startsWith("[type:")) &&
    Object.values(doc).every(Array.isArray);
}

function rd(value: unknown, where: string): string {
  if (!isObject(value) || value.admin === undefined || typeof value.assigned !== "number") {
    throw new Error(`${where}: rd is not {admin, assigned}`);
  }
  return `${value.admin}:${value.assigned}`;
}

function attr(attrs: JsonObject[], type: number): JsonObject | undefined {
  return attrs.find((a) => a.type === type);
}

/**
 * The route of one GoBGP path: undefined for a withdrawal, "other" for an EVPN route type
 * other than 2 and 3.
 * @throws Error naming the route key and field that is not what GoBGP prints.
 */
export function gobgpPathRoute(key: string, path: unknown): SnapshotRoute | "other" | undefined {
  const where = `route ${key}`;
  if (!isObject(path) || !isObject(path.nlri) || !Array.isArray(path.attrs)) {
    throw new Error(`${where}: a path without nlri and attrs`);
  }
  if (path.withdrawal === true) return undefined;
  const type = path.nlri.type;
  const v = path.nlri.value;
  if (!isObject(v)) throw new Error(`${where}: nlri.value is not an object`);
  if (type !== 2 && type !== 3) return "other";
  const attrs = (path.attrs as unknown[]).filter(isObject);
  const reach = attr(attrs, 14);
  if (typeof reach?.nexthop !== "string") throw new Error(`${where}: no next hop (attr 14)`);
  const ext = attr(attrs, 16)?.value;
  const communities = Array.isArray(ext) ? ext.filter(isObject) : [];
  const routeTargets = communities.filter((c) => c.subtype === 2 && typeof c.value === "string")
    .map((c) => c.value as string);
  const mm = communities.find((c) => c.type === 6 && c.subtype === 0);
  const mobility = mm
    ? { sequence: Number(mm.sequence ?? 0), sticky: mm.is_sticky === true }
    : undefined;
  const base = { rd: rd(v.rd, where), ethernetTag: Number(v.etag ?? 0), routeTargets };
  if (type === 2) {
    const labels = v.labels;
    if (!Array.isArray(labels) || typeof labels[0] !== "number") {
      throw new Error(`${where}: labels is not a list of numbers`);
    }
    if (typeof v.mac !== "string") throw new Error(`${where}: mac is not a string`);
    const ip = typeof v.ip === "string" && v.ip !== "<nil>" && v.ip !== "" ? v.ip : undefined;
    return { ...base, type: 2, mac: v.mac, ip, nextHop: reach.nexthop, vni: labels[0], mobility };
  }
  const pmsi = attr(attrs, 22);
  if (typeof v.ip !== "string") throw new Error(`${where}: ip (originator) is not a string`);
  const label = pmsi?.label;
  if (typeof label !== "number") throw new Error(`${where}: no PMSI tunnel label (attr 22)`);
  return {
    ...base,
    type: 3,
    originator: v.ip,
    nextHop: reach.nexthop,
    pmsiEndpoint: typeof pmsi?.["tunnel-id"] === "string" ? pmsi["tunnel-id"] : undefined,
    vni: label,
  };
}

/**
 * Routes of a GoBGP EVPN table; `skipped` counts paths of other route types.
 * @throws Error naming the route key and field that is not what GoBGP prints.
 */
export function parseGobgpRib(doc: JsonObject): { routes: SnapshotRoute[]; skipped: number } {
  const routes: SnapshotRoute[] = [];
  let skipped = 0;
  for (const [key, paths] of Object.entries(doc)) {
    for (const path of paths as unknown[]) {
      const route = gobgpPathRoute(key, path);
      if (route === "other") skipped++;
      else if (route) routes.push(route);
    }
  }
  return { routes, skipped };
}
