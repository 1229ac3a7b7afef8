/**
 * Attach/detach requests, their checks, and their wire form for bagpipe-bgp 17
 * (`POST /attach_localport`, `POST /detach_localport`).
 *
 * The checks reject what the daemon would answer with a 500 instead of a 400 (malformed
 * route target, impossible IP, `advertise_subnet` on EVPN), because a failed FIRST attach
 * leaves the instance registered but broken until the daemon restarts (bug B3).
 */

/** Routes to re-advertise: those received with `fromRt` are re-advertised with `toRt`. */
export interface Readvertise {
  fromRt: string[];
  toRt: string[];
}

/** Plug one endpoint (MAC, optional IP) of a host-side interface into an EVPN instance. */
export interface AttachRequest {
  /** VPN instance id; ports attached with the same id share one instance, bridge and VNI. */
  vpnInstanceId: string;
  /** Endpoint MAC; sent in lower case so that attach and detach always use the same key. */
  macAddress: string;
  /** Host-side interface (veth) name; it must exist and be up before attaching (bug B3). */
  localPort: string;
  /** "a.b.c.d/len"; advertised as /32. Detach must later send the identical string. */
  ipAddress?: string;
  /** Gateway "a.b.c.d"; the daemon only stores it (shown by the looking glass). */
  gatewayIp?: string;
  /** Route targets "ASN:NN" to import and export. */
  importRt: string[];
  exportRt: string[];
  /** VXLAN VNI; absent or 0 lets the daemon allocate one per node (from 16 upwards). */
  vni?: number;
  /**
   * Advertise the whole subnet instead of the /32. EVPN instances of bagpipe-bgp 17 only
   * advertise /32 (a shorter prefix answers 500), so `true` is only accepted with a /32.
   */
  advertiseSubnet?: boolean;
  /** Only taken into account when the instance is created (first attach on the node). */
  readvertise?: Readvertise;
  /** Free text stored with the endpoint, shown by the looking glass. */
  description?: string;
  /**
   * A Linux bridge the port is already plugged into. The driver then uses it instead of making
   * `evpn---<id>`, reuses a VXLAN port on it whose VNI is the instance's (so `vni` must be given),
   * never deletes either, and does not plug the port itself.
   */
  linuxbr?: string;
}

/** Unplug one endpoint; without `ipAddress` every IP of that MAC is unplugged. */
export interface DetachRequest {
  vpnInstanceId: string;
  macAddress: string;
  localPort: string;
  /** Must be the identical string given at attach ("/32" does not match "/24"). */
  ipAddress?: string;
}

/** VPN type this client attaches to: EVPN (MAC-VRF over VXLAN). */
export const VPN_TYPE = "evpn";

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
export const MAX_INTERFACE_NAME = 15;

/** Largest VXLAN network identifier (24 bits). */
export const MAX_VNI = 0xffffff;

/** Result of turning a request into its wire body: the body, or every problem found. */
export type WireBody =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; problems: string[] };

/** Checks an attach request and builds its `attach_localport` JSON body. */
export function attachBody(req: AttachRequest): WireBody {
  const problems = _endpointProblems(req);
  problems.push(..._routeTargetProblems("importRt", req.importRt));
  problems.push(..._routeTargetProblems("exportRt", req.exportRt));
  if (req.gatewayIp !== undefined && !isIpv4Address(req.gatewayIp)) {
    problems.push(`gatewayIp ${JSON.stringify(req.gatewayIp)} is not an IPv4 address a.b.c.d`);
  }
  if (req.vni !== undefined && !(Number.isInteger(req.vni) && req.vni >= 0 && req.vni <= MAX_VNI)) {
    problems.push(`vni ${req.vni} is not an integer from 0 to ${MAX_VNI}`);
  }
  if (
    req.linuxbr !== undefined &&
    (req.linuxbr === "" || new TextEncoder().encode(req.linuxbr).length > MAX_INTERFACE_NAME ||
      /[\/\s:]/.test(req.linuxbr))
  ) {
    problems.push(`linuxbr ${JSON.stringify(req.linuxbr)} is not a Linux interface name`);
  }
  if (req.advertiseSubnet === true && !req.ipAddress?.endsWith("/32")) {
    problems.push(
      "advertiseSubnet needs a /32 ipAddress: EVPN instances only advertise host routes",
    );
  }
  if (req.readvertise !== undefined) {
    problems.push(..._routeTargetProblems("readvertise.fromRt", req.readvertise.fromRt));
    problems.push(..._routeTargetProblems("readvertise.toRt", req.readvertise.toRt));
  }
  if (problems.length > 0) return { ok: false, problems };

  const body: Record<string, unknown> = {
    vpn_type: VPN_TYPE,
    vpn_instance_id: req.vpnInstanceId,
    mac_address: req.macAddress.toLowerCase(),
    local_port: { linuxif: req.localPort },
    import_rt: [...req.importRt],
    export_rt: [...req.exportRt],
  };
  if (req.ipAddress !== undefined) body.ip_address = req.ipAddress;
  if (req.gatewayIp !== undefined) body.gateway_ip = req.gatewayIp;
  if (req.vni !== undefined && req.vni !== 0) body.vni = req.vni;
  if (req.advertiseSubnet !== undefined) body.advertise_subnet = req.advertiseSubnet;
  if (req.readvertise !== undefined) {
    // The daemon needs both keys, each a JSON list (a string is not split here).
    body.readvertise = { from_rt: [...req.readvertise.fromRt], to_rt: [...req.readvertise.toRt] };
  }
  if (req.description !== undefined) body.description = req.description;
  if (req.linuxbr !== undefined) body.linuxbr = req.linuxbr;
  return { ok: true, body };
}

/** Checks a detach request and builds its `detach_localport` JSON body. */
export function detachBody(req: DetachRequest): WireBody {
  const problems = _endpointProblems(req);
  if (problems.length > 0) return { ok: false, problems };
  const body: Record<string, unknown> = {
    vpn_type: VPN_TYPE,
    vpn_instance_id: req.vpnInstanceId,
    mac_address: req.macAddress.toLowerCase(),
    local_port: { linuxif: req.localPort },
  };
  if (req.ipAddress !== undefined) body.ip_address = req.ipAddress;
  return { ok: true, body };
}

/** True for a canonical dotted quad "a.b.c.d" (no leading zeros, each part 0-255). */
export function isIpv4Address(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) =>
    /^(0|[1-9][0-9]{0,2})$/.test(part) &&
    Number(part) <= 255
  );
}

/** True for "a.b.c.d/len" with a canonical address and a prefix length 0-32. */
export function isIpv4Prefix(text: string): boolean {
  const [address, length, ...rest] = text.split("/");
  return rest.length === 0 && length !== undefined && isIpv4Address(address) &&
    /^(0|[1-9][0-9]?)$/.test(length) && Number(length) <= 32;
}

/** True for a route target "ASN:NN" the daemon can encode (2-byte ASN or 4-byte ASN:16-bit). */
export function isRouteTarget(text: string): boolean {
  const match = /^(0|[1-9][0-9]*):(0|[1-9][0-9]*)$/.exec(text);
  if (match === null) return false;
  const asn = Number(match[1]);
  const number = Number(match[2]);
  const u32 = 0xffffffff;
  return asn <= u32 && number <= (asn > 0xffff ? 0xffff : u32);
}

/** True for a MAC address "aa:bb:cc:dd:ee:ff" (either case). */
export function isMacAddress(text: string): boolean {
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text);
}

function _endpointProblems(req: DetachRequest): string[] {
  const problems: string[] = [];
  if (typeof req.vpnInstanceId !== "string" || req.vpnInstanceId === "") {
    problems.push("vpnInstanceId is empty");
  } else if (/[\/\s]/.test(req.vpnInstanceId)) {
    // The id becomes part of looking-glass URLs and interface names.
    problems.push(
      `vpnInstanceId ${JSON.stringify(req.vpnInstanceId)} contains "/" or whitespace`,
    );
  }
  if (!isMacAddress(req.macAddress)) {
    problems.push(`macAddress ${JSON.stringify(req.macAddress)} is not aa:bb:cc:dd:ee:ff`);
  }
  if (
    typeof req.localPort !== "string" || req.localPort === "" ||
    new TextEncoder().encode(req.localPort).length > MAX_INTERFACE_NAME ||
    /[\/\s:]/.test(req.localPort)
  ) {
    problems.push(
      `localPort ${JSON.stringify(req.localPort)} is not a Linux interface name ` +
        `(1-${MAX_INTERFACE_NAME} bytes, no "/", ":" or whitespace)`,
    );
  }
  if (req.ipAddress !== undefined && !isIpv4Prefix(req.ipAddress)) {
    problems.push(`ipAddress ${JSON.stringify(req.ipAddress)} is not a.b.c.d/len`);
  }
  return problems;
}

function _routeTargetProblems(field: string, targets: readonly string[]): string[] {
  if (!Array.isArray(targets)) return [`${field} is not a list of route targets`];
  return targets
    .filter((target) => typeof target !== "string" || !isRouteTarget(target))
    .map((target) => `${field} entry ${JSON.stringify(target)} is not a route target ASN:NN`);
}
