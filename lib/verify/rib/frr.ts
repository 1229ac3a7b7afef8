/**
 * FRR's EVPN table as vtysh prints it with `show bgp l2vpn evpn route detail json` (or
 * `show bgp l2vpn evpn json`): an object from RD to `{rd, "[2]:[0]:[48]:[MAC]:[32]:[IP]":
 * {paths}, "[3]:[0]:[32]:[ORIG]": {paths}}`, each path with `nexthops`, `extendedCommunity.string`
 * (`RT:64512:90 ET:8`), and, in the detail form, `vni` (type 2) and `pmsi.label` (type 3).
 * FRR 8.4's short form prints no label: such a route has no VNI and is refused with the
 * command that prints it.
 */
import { isObject, type JsonObject, type SnapshotRoute } from "./route.ts";

/** True when `doc` looks like FRR's EVPN JSON: RD keys holding `rd` and `[type]:...` prefixes. */
export function isFrrEvpn(doc: unknown): boolean {
  if (!isObject(doc)) return false;
  return Object.values(doc).some((v) =>
    isObject(v) && typeof v.rd === "string" && Object.keys(v).some((k) => /^\[\d+\]:/.test(k))
  );
}

function flatPaths(paths: unknown): JsonObject[] {
  if (!Array.isArray(paths)) return [];
  return paths.flat().filter(isObject);
}

function communities(path: JsonObject): { rts: string[]; mobility?: SnapshotRoute["mobility"] } {
  const text = isObject(path.extendedCommunity) ? String(path.extendedCommunity.string ?? "") : "";
  const rts = [...text.matchAll(/RT:(\S+)/g)].map((m) => m[1]!);
  const mm = /MM:(\d+)(, sticky MAC)?/.exec(text);
  return {
    rts,
    mobility: mm ? { sequence: Number(mm[1]), sticky: mm[2] !== undefined } : undefined,
  };
}

function number(v: unknown): number | undefined {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) ? n : undefined;
}

/**
 * Routes of an FRR EVPN table; `skipped` counts paths of other route types.
 * @throws Error naming the route that lacks what the decoder needs (next hop, VNI).
 */
export function parseFrrEvpn(doc: JsonObject): { routes: SnapshotRoute[]; skipped: number } {
  const routes: SnapshotRoute[] = [];
  let skipped = 0;
  for (const [rdKey, table] of Object.entries(doc)) {
    if (!isObject(table) || typeof table.rd !== "string") continue;
    for (const [prefix, entry] of Object.entries(table)) {
      if (!/^\[\d+\]:/.test(prefix) || !isObject(entry)) continue;
      const where = `route ${prefix} of RD ${rdKey}`;
      for (const path of flatPaths(entry.paths)) {
        if (path.valid === false) continue;
        const type = number(path.routeType ?? entry.routeType);
        if (type !== 2 && type !== 3) {
          skipped++;
          continue;
        }
        const hops = Array.isArray(path.nexthops) ? path.nexthops.filter(isObject) : [];
        const hop = hops.find((h) => h.used === true) ?? hops[0];
        if (typeof hop?.ip !== "string") throw new Error(`${where}: no next hop`);
        const { rts, mobility } = communities(path);
        const ethernetTag = number(path.ethTag ?? entry.ethTag) ?? 0;
        const ip = (path.ip ?? entry.ip) as unknown;
        const vni = type === 2 ? number(path.vni ?? path.VNI) : number(
          isObject(path.pmsi) ? path.pmsi.label : undefined,
        );
        if (vni === undefined) {
          throw new Error(
            `${where} carries no VNI (FRR prints it with \`show bgp l2vpn evpn route detail json\`)`,
          );
        }
        if (type === 2) {
          const mac = path.mac ?? entry.mac;
          if (typeof mac !== "string") throw new Error(`${where}: no MAC`);
          routes.push({
            type: 2,
            rd: table.rd,
            ethernetTag,
            mac,
            ip: typeof ip === "string" && ip !== "" ? ip : undefined,
            nextHop: hop.ip,
            vni,
            routeTargets: rts,
            mobility,
          });
        } else {
          if (typeof ip !== "string") throw new Error(`${where}: no originator IP`);
          routes.push({
            type: 3,
            rd: table.rd,
            ethernetTag,
            originator: ip,
            nextHop: hop.ip,
            vni,
            routeTargets: rts,
          });
        }
      }
    }
  }
  return { routes, skipped };
}
