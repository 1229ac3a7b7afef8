import { CniError, ErrorCode } from "./errors.ts";
import { type CniVersion, compareVersions } from "./version.ts";

/** An interface in a result (spec 1.x; `mtu` is a 1.1.0 field). */
export interface ResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}
/** An address in a result; `interface` indexes `interfaces`. */
export interface ResultIp {
  address: string;
  gateway?: string;
  interface?: number;
}
export interface ResultRoute {
  dst: string;
  gw?: string;
}
export interface ResultDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
/** A result in our internal (1.x) shape. */
export interface Result {
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  dns: ResultDns;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function decodeFailure(what: string, why: string): CniError {
  return new CniError(ErrorCode.DecodeFailure, `failed to decode ${what}`, why);
}

/**
 * Reads a result of any supported version (0.3.0 – 1.1.0) into the internal shape.
 * @param what names the source in errors, e.g. "IPAM result" or "prevResult".
 * @throws CniError code 6 when a field has the wrong type.
 */
export function parseResult(raw: unknown, what: string): Result {
  if (!isObject(raw)) throw decodeFailure(what, "not a JSON object");
  const list = (key: string): unknown[] => {
    const v = raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw decodeFailure(what, `${key} is not a list`);
    return v;
  };
  const interfaces = list("interfaces").map((i, n) => {
    if (!isObject(i) || typeof i.name !== "string") {
      throw decodeFailure(what, `interfaces[${n}] has no name`);
    }
    const out: ResultInterface = { name: i.name };
    if (typeof i.mac === "string") out.mac = i.mac;
    if (typeof i.mtu === "number") out.mtu = i.mtu;
    if (typeof i.sandbox === "string") out.sandbox = i.sandbox;
    return out;
  });
  const ips = list("ips").map((ip, n) => {
    if (!isObject(ip) || typeof ip.address !== "string" || !ip.address.includes("/")) {
      throw decodeFailure(what, `ips[${n}] has no address in CIDR form`);
    }
    const out: ResultIp = { address: ip.address };
    if (typeof ip.gateway === "string") out.gateway = ip.gateway;
    if (typeof ip.interface === "number") out.interface = ip.interface;
    return out;
  });
  const routes = list("routes").map((r, n) => {
    if (!isObject(r) || typeof r.dst !== "string") {
      throw decodeFailure(what, `routes[${n}] has no dst`);
    }
    const out: ResultRoute = { dst: r.dst };
    if (typeof r.gw === "string") out.gw = r.gw;
    return out;
  });
  const dns: ResultDns = isObject(raw.dns) ? { ...raw.dns } as ResultDns : {};
  return { interfaces, ips, routes, dns };
}

/** True when the address (CIDR or bare) is IPv6. */
export function isIpv6(address: string): boolean {
  return address.includes(":");
}

/** Renders a result in the shape the given spec version expects. */
export function formatResult(result: Result, version: CniVersion): Record<string, unknown> {
  const legacy = compareVersions(version, "1.0.0") < 0;
  const withMtu = compareVersions(version, "1.1.0") >= 0;
  const out: Record<string, unknown> = {
    cniVersion: version,
    interfaces: result.interfaces.map((i) => {
      const { mtu, ...rest } = i;
      return withMtu && mtu !== undefined ? { ...rest, mtu } : rest;
    }),
    // Before 1.0.0 every address carried its IP version.
    ips: result.ips.map((ip) => legacy ? { version: isIpv6(ip.address) ? "6" : "4", ...ip } : ip),
  };
  if (result.routes.length > 0) out.routes = result.routes;
  out.dns = result.dns;
  return out;
}
