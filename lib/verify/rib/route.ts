/**
 * One EVPN route of a control-plane snapshot (`verify --rib`), whatever program it came from:
 * what the decoder needs to hold VXLAN frames against it. Each format's parser (bagpipe.ts,
 * gobgp.ts, frr.ts) produces these; encode.ts hands them to the decoder.
 */
export interface SnapshotRoute {
  /** EVPN route type: 2 (MAC/IP advertisement) or 3 (inclusive multicast). */
  type: 2 | 3;
  /** Route distinguisher as `IPv4:NN` or `ASN:NN`. */
  rd: string;
  ethernetTag: number;
  /** Type 2: the MAC (any case, colon separated) and the IP, if any. */
  mac?: string;
  ip?: string;
  /** Type 3: the originating router's address. */
  originator?: string;
  /** The VTEP: the route's next hop (type 3: the PMSI tunnel endpoint when there is one). */
  nextHop: string;
  /** The VNI traffic to this route must carry (VXLAN encapsulation: the whole label). */
  vni: number;
  /** Route targets as `ASN:NN` or `IPv4:NN`. */
  routeTargets: string[];
  /** Type 3: the PMSI tunnel endpoint (ingress replication), when announced. */
  pmsiEndpoint?: string;
  /** MAC mobility extended community, when present. */
  mobility?: { sequence: number; sticky: boolean };
}

/** A snapshot that cannot be used: names the file and what is wrong with it. */
export class SnapshotError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`snapshot "${file}": ${problem}`);
    this.name = "SnapshotError";
  }
}

/** The snapshot formats `--rib` reads, by the program that printed them. */
export type SnapshotFormat = "bagpipe-bgp" | "gobgp" | "frr";

/** A parsed snapshot: its format and routes (other address families are left out). */
export interface Snapshot {
  file: string;
  format: SnapshotFormat;
  routes: SnapshotRoute[];
  /** EVPN routes of other types than 2 and 3, not used. */
  skipped: number;
}

/** A JSON object, for the parsers' narrowing. */
export type JsonObject = Record<string, unknown>;

/** True when `v` is a plain JSON object. */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
