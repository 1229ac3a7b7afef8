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

function attr(attrs: JsonObject[], type: number): JsonObject | undefined {
  return attrs.find((a) => a.type === type);
}

/**
 * What one GoBGP path says, as the full parse (below) or the scan (gobgp_scan.ts) read it, not
 * yet checked: both make their route with `gobgpRoute`.
 */
export interface GobgpPathFields {
  withdrawal: boolean;
  nlriType: unknown;
  /** `nlri.value` is an object. */
  hasValue: boolean;
  rdAdmin: unknown;
  rdAssigned: unknown;
  etag: number;
  mac: unknown;
  ip: unknown;
  /** The first of `nlri.value.labels`. */
  label: unknown;
  /** Of the first attribute 14. */
  nextHop: unknown;
  /** Of the first attribute 16. */
  routeTargets: string[];
  mobility: SnapshotRoute["mobility"];
  /** Of the first attribute 22. */
  pmsiLabel: unknown;
  tunnelId: unknown;
}

/**
 * The route of a path's fields: undefined for a withdrawal, "other" for an EVPN route type
 * other than 2 and 3. `fail` (which throws) gets what is not what GoBGP prints.
 */
export function gobgpRoute(
  f: GobgpPathFields,
  fail: (what: string) => never,
): SnapshotRoute | "other" | undefined {
  if (f.withdrawal) return undefined;
  if (!f.hasValue) fail("nlri.value is not an object");
  if (f.nlriType !== 2 && f.nlriType !== 3) return "other";
  if (typeof f.nextHop !== "string") fail("no next hop (attr 14)");
  if (f.rdAdmin === undefined || typeof f.rdAssigned !== "number") {
    fail("rd is not {admin, assigned}");
  }
  const base = {
    rd: `${f.rdAdmin}:${f.rdAssigned}`,
    ethernetTag: f.etag,
    routeTargets: f.routeTargets,
  };
  if (f.nlriType === 2) {
    if (typeof f.label !== "number") fail("labels is not a list of numbers");
    if (typeof f.mac !== "string") fail("mac is not a string");
    const ip = typeof f.ip === "string" && f.ip !== "<nil>" && f.ip !== "" ? f.ip : undefined;
    return {
      ...base,
      type: 2,
      mac: f.mac,
      ip,
      nextHop: f.nextHop,
      vni: f.label,
      mobility: f.mobility,
    };
  }
  if (typeof f.ip !== "string") fail("ip (originator) is not a string");
  if (typeof f.pmsiLabel !== "number") fail("no PMSI tunnel label (attr 22)");
  return {
    ...base,
    type: 3,
    originator: f.ip,
    nextHop: f.nextHop,
    pmsiEndpoint: typeof f.tunnelId === "string" ? f.tunnelId : undefined,
    vni: f.pmsiLabel,
  };
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
  const v = path.nlri.value;
  const value = isObject(v) ? v : {};
  const rd = value.rd;
  const attrs = (path.attrs as unknown[]).filter(isObject);
  const ext = attr(attrs, 16)?.value;
  const communities = Array.isArray(ext) ? ext.filter(isObject) : [];
  const mm = communities.find((c) => c.type === 6 && c.subtype === 0);
  const pmsi = attr(attrs, 22);
  return gobgpRoute({
    withdrawal: path.withdrawal === true,
    nlriType: path.nlri.type,
    hasValue: isObject(v),
    rdAdmin: isObject(rd) ? rd.admin : undefined,
    rdAssigned: isObject(rd) ? rd.assigned : undefined,
    etag: Number(value.etag ?? 0),
    mac: value.mac,
    ip: value.ip,
    label: Array.isArray(value.labels) ? value.labels[0] : undefined,
    nextHop: attr(attrs, 14)?.nexthop,
    routeTargets: communities.filter((c) => c.subtype === 2 && typeof c.value === "string")
      .map((c) => c.value as string),
    mobility: mm
      ? { sequence: Number(mm.sequence ?? 0), sticky: mm.is_sticky === true }
      : undefined,
    pmsiLabel: pmsi?.label,
    tunnelId: pmsi?.["tunnel-id"],
  }, (what) => {
    throw new Error(`${where}: ${what}`);
  });
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
