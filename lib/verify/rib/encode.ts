/**
 * Snapshot routes as the decoder's seed records (wasm/src/snapshot.rs): each route as it is
 * on the wire — EVPN NLRI, next hop, extended communities, PMSI tunnel — so the decoder reads
 * them with the code that reads UPDATEs.
 */
import type { SnapshotRoute } from "./route.ts";

/** Thrown with the route's position and what is wrong when a route cannot be encoded. */
export class RouteEncodingError extends Error {}

function ipv4(text: string, what: string): number[] {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new RouteEncodingError(`${what} "${text}" is not an IPv4 address`);
  }
  return parts.map(Number);
}

function ipv6(text: string, what: string): number[] {
  const halves = text.split("::");
  if (halves.length > 2) throw new RouteEncodingError(`${what} "${text}" is not an IP address`);
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  let v4: number[] = [];
  const last = (tail.length ? tail : head).at(-1);
  if (last?.includes(".")) {
    v4 = ipv4(last, what);
    (tail.length ? tail : head).pop();
  }
  const words = 8 - v4.length / 2;
  const fill = halves.length === 2 ? words - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== words)) {
    throw new RouteEncodingError(`${what} "${text}" is not an IP address`);
  }
  const all = [...head, ...Array(fill).fill("0"), ...tail];
  const out: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) {
      throw new RouteEncodingError(`${what} "${text}" is not an IP address`);
    }
    const n = parseInt(g, 16);
    out.push(n >> 8, n & 0xff);
  }
  return [...out, ...v4];
}

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export function ipBytes(text: string, what: string): number[] {
  return text.includes(":") ? ipv6(text, what) : ipv4(text, what);
}

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function u24(n: number): number[] {
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

function uint(text: string, max: number, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) > max) {
    throw new RouteEncodingError(`${what} "${text}" is not a number 0-${max}`);
  }
  return Number(text);
}

/** `ADMIN:NN` with `ADMIN` an IPv4 address or an ASN: [type-specific 6 bytes, 2-byte type]. */
function adminAssigned(text: string, what: string, rdType: boolean): number[] {
  const cut = text.lastIndexOf(":");
  if (cut <= 0) throw new RouteEncodingError(`${what} "${text}" is not ADMIN:NUMBER`);
  const admin = text.slice(0, cut);
  const nn = text.slice(cut + 1);
  if (admin.includes(".")) {
    return [...u16(rdType ? 1 : 0x0102), ...ipv4(admin, what), ...u16(uint(nn, 0xffff, what))];
  }
  const asn = uint(admin, 0xffffffff, what);
  if (asn <= 0xffff) {
    return [...u16(rdType ? 0 : 0x0002), ...u16(asn), ...u32(uint(nn, 0xffffffff, what))];
  }
  return [...u16(rdType ? 2 : 0x0202), ...u32(asn), ...u16(uint(nn, 0xffff, what))];
}

function mac(text: string): number[] {
  if (!/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(text)) {
    throw new RouteEncodingError(`MAC "${text}" is not a MAC address`);
  }
  return text.split(/[:-]/).map((h) => parseInt(h, 16));
}

const ZERO_ESI = new Array(10).fill(0);

function nlri(r: SnapshotRoute): number[] {
  const rd = adminAssigned(r.rd, "route distinguisher", true);
  const etag = u32(r.ethernetTag);
  if (r.type === 2) {
    if (r.mac === undefined) throw new RouteEncodingError("MAC/IP route without a MAC");
    const ip = r.ip ? ipBytes(r.ip, "IP") : [];
    return [...rd, ...ZERO_ESI, ...etag, 48, ...mac(r.mac), ip.length * 8, ...ip, ...u24(r.vni)];
  }
  if (r.originator === undefined) {
    throw new RouteEncodingError("inclusive multicast route without an originator");
  }
  const orig = ipBytes(r.originator, "originator");
  return [...rd, ...etag, orig.length * 8, ...orig];
}

function communities(r: SnapshotRoute): number[] {
  // VXLAN encapsulation first: it says the label is the whole VNI.
  const out = [0x03, 0x0c, 0, 0, 0, 0, 0, 8];
  for (const rt of r.routeTargets) out.push(...adminAssigned(rt, "route target", false));
  if (r.mobility) {
    out.push(0x06, 0x00, r.mobility.sticky ? 1 : 0, 0, ...u32(r.mobility.sequence));
  }
  return out;
}

function pmsi(r: SnapshotRoute): number[] {
  if (r.type !== 3) return [];
  const endpoint = ipBytes(r.pmsiEndpoint ?? r.nextHop, "PMSI tunnel endpoint");
  // Ingress replication (6), label = VNI.
  return [0, 6, ...u24(r.vni), ...endpoint];
}

/** One route as a seed record. @throws RouteEncodingError saying which field is wrong. */
export function encodeRoute(r: SnapshotRoute): number[] {
  if (!Number.isInteger(r.vni) || r.vni < 0 || r.vni > 0xffffff) {
    throw new RouteEncodingError(`VNI ${r.vni} is not 0-16777215`);
  }
  if (!Number.isInteger(r.ethernetTag) || r.ethernetTag < 0 || r.ethernetTag > 0xffffffff) {
    throw new RouteEncodingError(`Ethernet tag ${r.ethernetTag} is not a 32-bit number`);
  }
  const n = nlri(r);
  const nh = ipBytes(r.nextHop, "next hop");
  const ext = communities(r);
  const p = pmsi(r);
  const body = [
    r.type,
    n.length,
    ...n,
    nh.length,
    ...nh,
    ...u16(ext.length),
    ...ext,
    p.length,
    ...p,
  ];
  return [...u16(body.length), ...body];
}

/** All routes as one buffer of seed records. @throws RouteEncodingError naming the route. */
export function encodeRoutes(routes: readonly SnapshotRoute[]): Uint8Array {
  const chunks: number[][] = [];
  let total = 0;
  routes.forEach((r, i) => {
    try {
      const rec = encodeRoute(r);
      chunks.push(rec);
      total += rec.length;
    } catch (e) {
      const what = r.type === 2 ? `MAC ${r.mac}` : `originator ${r.originator}`;
      throw new RouteEncodingError(
        `route ${i + 1} (type ${r.type}, RD ${r.rd}, ${what}): ${(e as Error).message}`,
      );
    }
  });
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
