/**
 * Snapshot routes as the decoder's seed records (wasm/src/snapshot.rs): each route as it is
 * on the wire — EVPN NLRI, next hop, extended communities, PMSI tunnel — so the decoder reads
 * them with the code that reads UPDATEs.
 */
import type { SnapshotRoute } from "./route.ts";

/** Thrown with the route's position and what is wrong when a route cannot be encoded. */
export class RouteEncodingError extends Error {}

/** Dotted-quad `text` (1-3 digits each, 0-255) as a 32-bit number, or -1. Read by hand, into
 * no array: a 100,000-route snapshot has 300,000 addresses. */
function dottedQuad(text: string): number {
  let value = 0;
  let octet = 0;
  let part = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e && digits > 0 && part < 3) {
      value = value * 256 + octet;
      octet = 0;
      part++;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      octet = octet * 10 + c - 0x30;
      if (octet > 255) return -1;
      digits++;
    } else return -1;
  }
  return part === 3 && digits > 0 ? value * 256 + octet : -1;
}

function ipv4Value(text: string, what: string): number {
  const v = dottedQuad(text);
  if (v < 0) throw new RouteEncodingError(`${what} "${text}" is not an IPv4 address`);
  return v;
}

function ipv4(text: string, what: string): number[] {
  const v = ipv4Value(text, what);
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
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

/** Appends an IPv4 or IPv6 address; returns its length in bytes. */
function address(w: ByteWriter, text: string, what: string): number {
  if (text.includes(":")) {
    const b = ipv6(text, what);
    w.bytes(b);
    return b.length;
  }
  w.u32(ipv4Value(text, what));
  return 4;
}

/** Appends bytes to one growing buffer: a 100,000-route snapshot is encoded without a
 * temporary array per field. */
class ByteWriter {
  buf = new Uint8Array(1 << 16);
  len = 0;

  #room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(n: number): void {
    this.#room(1);
    this.buf[this.len++] = n & 0xff;
  }

  u16(n: number): void {
    this.#room(2);
    this.buf[this.len++] = (n >> 8) & 0xff;
    this.buf[this.len++] = n & 0xff;
  }

  u24(n: number): void {
    this.u8(n >> 16);
    this.u16(n);
  }

  u32(n: number): void {
    this.u16(n >>> 16);
    this.u16(n & 0xffff);
  }

  bytes(b: readonly number[]): void {
    this.#room(b.length);
    for (const x of b) this.buf[this.len++] = x;
  }

  /** Writes a 16-bit length placeholder at the current position; returns where it is. */
  mark(): number {
    this.u16(0);
    return this.len;
  }

  /** Fills the placeholder of `mark` with the bytes written since, as a 16-bit length. */
  fill(at: number): void {
    const n = this.len - at;
    this.buf[at - 2] = (n >> 8) & 0xff;
    this.buf[at - 1] = n & 0xff;
  }
}

function uint(text: string, max: number, what: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) {
      n = -1;
      break;
    }
    n = n * 10 + c - 0x30;
  }
  if (text === "" || n < 0 || n > max) {
    throw new RouteEncodingError(`${what} "${text}" is not a number 0-${max}`);
  }
  return n;
}

/** `ADMIN:NN` with `ADMIN` an IPv4 address or an ASN, as an RD (`rdType`) or a route target. */
function adminAssigned(w: ByteWriter, text: string, what: string, rdType: boolean): void {
  const cut = text.lastIndexOf(":");
  if (cut <= 0) throw new RouteEncodingError(`${what} "${text}" is not ADMIN:NUMBER`);
  const admin = text.slice(0, cut);
  const nn = text.slice(cut + 1);
  if (admin.includes(".")) {
    w.u16(rdType ? 1 : 0x0102);
    w.u32(ipv4Value(admin, what));
    w.u16(uint(nn, 0xffff, what));
    return;
  }
  const asn = uint(admin, 0xffffffff, what);
  if (asn <= 0xffff) {
    w.u16(rdType ? 0 : 0x0002);
    w.u16(asn);
    w.u32(uint(nn, 0xffffffff, what));
  } else {
    w.u16(rdType ? 2 : 0x0202);
    w.u32(asn);
    w.u16(uint(nn, 0xffff, what));
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** Six hex pairs separated by `:` or `-`. */
function mac(w: ByteWriter, text: string): void {
  let n = 0;
  for (; n < 6 && text.length === 17; n++) {
    const hi = hexDigit(text.charCodeAt(3 * n));
    const lo = hexDigit(text.charCodeAt(3 * n + 1));
    const sep = text.charCodeAt(3 * n + 2);
    if (hi < 0 || lo < 0 || (n < 5 && sep !== 0x3a && sep !== 0x2d)) break;
    // A bad MAC leaves these bytes behind: the caller drops the route's record.
    w.u8(hi * 16 + lo);
  }
  if (n !== 6) throw new RouteEncodingError(`MAC "${text}" is not a MAC address`);
}

function nlri(w: ByteWriter, r: SnapshotRoute): void {
  w.u8(r.type);
  const at = w.len + 1;
  w.u8(0);
  adminAssigned(w, r.rd, "route distinguisher", true);
  if (r.type === 2) {
    if (r.mac === undefined) throw new RouteEncodingError("MAC/IP route without a MAC");
    for (let i = 0; i < 10; i++) w.u8(0); // single-homed: ESI 0
    w.u32(r.ethernetTag);
    w.u8(48);
    mac(w, r.mac);
    const ipAt = w.len;
    w.u8(0);
    if (r.ip) w.buf[ipAt] = address(w, r.ip, "IP") * 8;
    w.u24(r.vni);
  } else {
    if (r.originator === undefined) {
      throw new RouteEncodingError("inclusive multicast route without an originator");
    }
    w.u32(r.ethernetTag);
    const origAt = w.len;
    w.u8(0);
    w.buf[origAt] = address(w, r.originator, "originator") * 8;
  }
  w.buf[at - 1] = w.len - at;
}

const VXLAN_ENCAPSULATION = [0x03, 0x0c, 0, 0, 0, 0, 0, 8];

function communities(w: ByteWriter, r: SnapshotRoute): void {
  const at = w.mark();
  // VXLAN encapsulation first: it says the label is the whole VNI.
  w.bytes(VXLAN_ENCAPSULATION);
  for (const rt of r.routeTargets) adminAssigned(w, rt, "route target", false);
  if (r.mobility) {
    w.bytes([0x06, 0x00, r.mobility.sticky ? 1 : 0, 0]);
    w.u32(r.mobility.sequence);
  }
  w.fill(at);
}

function pmsi(w: ByteWriter, r: SnapshotRoute): void {
  if (r.type !== 3) return w.u8(0);
  // Ingress replication (6), label = VNI.
  const at = w.len;
  w.u8(0);
  w.u8(0);
  w.u8(6);
  w.u24(r.vni);
  w.buf[at] = 5 + address(w, r.pmsiEndpoint ?? r.nextHop, "PMSI tunnel endpoint");
}

/** Appends one route as a seed record. @throws RouteEncodingError saying which field is wrong. */
function encodeRoute(w: ByteWriter, r: SnapshotRoute): void {
  if (!Number.isInteger(r.vni) || r.vni < 0 || r.vni > 0xffffff) {
    throw new RouteEncodingError(`VNI ${r.vni} is not 0-16777215`);
  }
  if (!Number.isInteger(r.ethernetTag) || r.ethernetTag < 0 || r.ethernetTag > 0xffffffff) {
    throw new RouteEncodingError(`Ethernet tag ${r.ethernetTag} is not a 32-bit number`);
  }
  const at = w.mark();
  nlri(w, r);
  const nhAt = w.len;
  w.u8(0);
  w.buf[nhAt] = address(w, r.nextHop, "next hop");
  communities(w, r);
  pmsi(w, r);
  w.fill(at);
}

/** All routes as one buffer of seed records. @throws RouteEncodingError naming the route. */
export function encodeRoutes(routes: readonly SnapshotRoute[]): Uint8Array {
  const w = new ByteWriter();
  routes.forEach((r, i) => {
    const start = w.len;
    try {
      encodeRoute(w, r);
    } catch (e) {
      w.len = start;
      const what = r.type === 2 ? `MAC ${r.mac}` : `originator ${r.originator}`;
      throw new RouteEncodingError(
        `route ${i + 1} (type ${r.type}, RD ${r.rd}, ${what}): ${(e as Error).message}`,
      );
    }
  });
  return w.buf.slice(0, w.len);
}
