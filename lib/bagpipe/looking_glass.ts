/**
 * Typed views of bagpipe-bgp 17 looking-glass answers (`GET /looking-glass/...`).
 *
 * Each parser takes the decoded JSON and returns the typed value, or a string that says
 * what is wrong with it (the caller turns that into a "bad-response" error).
 */

/** One configured BGP peer (`bgp/peers`); state is the FSM state, "Established" when up. */
export interface BgpPeer {
  id: string;
  state: string;
}

/** One VPN instance as listed by `vpns/instances`. */
export interface VpnInstanceSummary {
  /** The `vpn_instance_id` given at attach. */
  id: string;
  /** Internal name, e.g. "EVI-1". */
  name: string;
  /** `instance_description` of the last attach, when one was given. */
  description?: string;
}

/** One VPN instance in detail (`vpns/instances/<id>`). */
export interface VpnInstanceDetail {
  id: string;
  name: string;
  /** "EVI" for EVPN, "VRF" for IP VPN. */
  instanceType: string;
  /** VNI of an EVPN instance on this node (`instance_dataplane_id`). */
  vni: number;
  /** Route targets as "ASN:NN" (the looking glass prefixes them with "target:"). */
  importRts: string[];
  exportRts: string[];
  gatewayIp: string | null;
  subnetPrefixLength: number | null;
  /** Null when the instance was created without readvertise. */
  readvertise: { fromRts: string[]; toRts: string[] } | null;
  description: string | null;
}

/** One endpoint attached to a VPN instance (`vpns/instances/<id>/ports`). */
export interface AttachedEndpoint {
  vpnInstanceId: string;
  /** Host-side interface the endpoint was attached with. */
  localPort: string;
  /** MAC exactly as sent at attach. */
  macAddress: string;
  /** "a.b.c.d/len" exactly as sent at attach, or null for a MAC-only endpoint. */
  ipAddress: string | null;
  /** Per-port label allocated by the daemon (not the VNI). */
  label: number;
  /** Route distinguisher "a.b.c.d:n" (the looking glass writes " rd a.b.c.d:n"). */
  routeDistinguisher: string;
  description: string | null;
  direction: string | null;
  localPref: number | null;
}

/** The EVPN dataplane driver (`vpns/dataplane/drivers/evpn`): where its VXLAN tunnels start. */
export interface EvpnDataplane {
  /** Driver class, e.g. "LinuxVXLANDataplaneDriver". */
  driver: string;
  /** The VTEP address: `dataplane_local_address`, or the BGP `local_address` when unset. */
  localAddress: string;
  /** `vxlan_dst_port` of the driver's config (4789 unless configured). */
  vxlanPort: number;
}

/** Outcome of a parser: the typed value or why the JSON does not fit. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** Parses `bgp/peers`: `[{id, state, href}]`. */
export function parsePeers(json: unknown): Parsed<BgpPeer[]> {
  if (!Array.isArray(json)) return _bad("peer list", "an array", json);
  const peers: BgpPeer[] = [];
  for (const [index, item] of json.entries()) {
    if (!_isRecord(item) || typeof item.id !== "string" || typeof item.state !== "string") {
      return _bad(`peer #${index}`, "{id: string, state: string}", item);
    }
    peers.push({ id: item.id, state: item.state });
  }
  return { ok: true, value: peers };
}

/** Parses `vpns/instances`: `[{id, name, description?, href}]`. */
export function parseInstances(json: unknown): Parsed<VpnInstanceSummary[]> {
  if (!Array.isArray(json)) return _bad("instance list", "an array", json);
  const instances: VpnInstanceSummary[] = [];
  for (const [index, item] of json.entries()) {
    if (!_isRecord(item) || typeof item.id !== "string" || typeof item.name !== "string") {
      return _bad(`instance #${index}`, "{id: string, name: string}", item);
    }
    const summary: VpnInstanceSummary = { id: item.id, name: item.name };
    if (typeof item.description === "string") summary.description = item.description;
    instances.push(summary);
  }
  return { ok: true, value: instances };
}

/** Parses `vpns/instances/<id>`. */
export function parseInstance(json: unknown): Parsed<VpnInstanceDetail> {
  if (!_isRecord(json)) return _bad("instance", "an object", json);
  const {
    external_instance_id: id,
    name,
    instance_type: instanceType,
    instance_dataplane_id: vni,
    route_targets: routeTargets,
    gateway_ip: gatewayIp,
    subnet_prefix_length: plen,
    readvertise,
    description,
  } = json;
  if (typeof id !== "string") return _bad("external_instance_id", "a string", id);
  if (typeof name !== "string") return _bad("name", "a string", name);
  if (typeof instanceType !== "string") return _bad("instance_type", "a string", instanceType);
  if (!Number.isInteger(vni)) return _bad("instance_dataplane_id", "an integer", vni);
  if (!_isRecord(routeTargets)) return _bad("route_targets", "an object", routeTargets);
  const importRts = _routeTargets(routeTargets.import);
  const exportRts = _routeTargets(routeTargets.export);
  if (importRts === undefined) return _bad("route_targets.import", "a list", routeTargets.import);
  if (exportRts === undefined) return _bad("route_targets.export", "a list", routeTargets.export);
  if (!_isStringOrNull(gatewayIp)) return _bad("gateway_ip", "a string or null", gatewayIp);
  if (!(plen === null || plen === undefined || Number.isInteger(plen))) {
    return _bad("subnet_prefix_length", "an integer or null", plen);
  }
  if (!_isStringOrNull(description)) return _bad("description", "a string or null", description);
  let readvertiseRts: VpnInstanceDetail["readvertise"] = null;
  if (_isRecord(readvertise) && Object.keys(readvertise).length > 0) {
    const fromRts = _routeTargets(readvertise.from);
    const toRts = _routeTargets(readvertise.to);
    if (fromRts === undefined || toRts === undefined) {
      return _bad("readvertise", "{from: list, to: list}", readvertise);
    }
    readvertiseRts = { fromRts, toRts };
  } else if (!_isRecord(readvertise)) {
    return _bad("readvertise", "an object", readvertise);
  }
  return {
    ok: true,
    value: {
      id,
      name,
      instanceType,
      vni: vni as number,
      importRts,
      exportRts,
      gatewayIp: gatewayIp ?? null,
      subnetPrefixLength: (plen as number | null | undefined) ?? null,
      readvertise: readvertiseRts,
      description: description ?? null,
    },
  };
}

/** Parses `vpns/instances/<id>/ports`: `{<port>: {endpoints: [...]}}`, flattened. */
export function parsePorts(vpnInstanceId: string, json: unknown): Parsed<AttachedEndpoint[]> {
  if (!_isRecord(json)) return _bad("port map", "an object", json);
  const endpoints: AttachedEndpoint[] = [];
  for (const [localPort, port] of Object.entries(json)) {
    if (!_isRecord(port) || !Array.isArray(port.endpoints)) {
      return _bad(`port ${localPort}`, "{endpoints: [...]}", port);
    }
    for (const [index, item] of port.endpoints.entries()) {
      const where = `port ${localPort} endpoint #${index}`;
      if (!_isRecord(item)) return _bad(where, "an object", item);
      const { mac_address: mac, ip_address: ip, label, rd, description, direction } = item;
      const localPref = item.local_pref;
      if (typeof mac !== "string") return _bad(`${where} mac_address`, "a string", mac);
      if (!_isStringOrNull(ip)) return _bad(`${where} ip_address`, "a string or null", ip);
      if (!Number.isInteger(label)) return _bad(`${where} label`, "an integer", label);
      if (typeof rd !== "string") return _bad(`${where} rd`, "a string", rd);
      if (!_isStringOrNull(description)) {
        return _bad(`${where} description`, "a string or null", description);
      }
      if (!_isStringOrNull(direction)) {
        return _bad(`${where} direction`, "a string or null", direction);
      }
      if (!(localPref === null || localPref === undefined || Number.isInteger(localPref))) {
        return _bad(`${where} local_pref`, "an integer or null", localPref);
      }
      endpoints.push({
        vpnInstanceId,
        localPort,
        macAddress: mac,
        ipAddress: ip ?? null,
        label: label as number,
        routeDistinguisher: rd.trim().replace(/^rd\s+/, ""),
        description: description ?? null,
        direction: direction ?? null,
        localPref: (localPref as number | null | undefined) ?? null,
      });
    }
  }
  return { ok: true, value: endpoints };
}

/** Parses `vpns/dataplane/drivers/evpn`: `{name, local_address, config: {vxlan_dst_port}}`. */
export function parseEvpnDataplane(json: unknown): Parsed<EvpnDataplane> {
  if (!_isRecord(json)) return _bad("EVPN dataplane", "an object", json);
  const { name, local_address: localAddress, config } = json;
  if (typeof name !== "string") return _bad("name", "a string", name);
  if (typeof localAddress !== "string") return _bad("local_address", "a string", localAddress);
  const port = _isRecord(config) ? config.vxlan_dst_port : undefined;
  if (!(port === undefined || port === null || Number.isInteger(port))) {
    return _bad("config.vxlan_dst_port", "an integer", port);
  }
  return {
    ok: true,
    value: { driver: name, localAddress, vxlanPort: (port as number | null | undefined) ?? 4789 },
  };
}

function _routeTargets(list: unknown): string[] | undefined {
  if (!Array.isArray(list) || !list.every((rt) => typeof rt === "string")) return undefined;
  return list.map((rt: string) => rt.replace(/^target:/, ""));
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _isStringOrNull(value: unknown): value is string | null | undefined {
  return value === null || value === undefined || typeof value === "string";
}

function _bad<T>(what: string, expected: string, got: unknown): Parsed<T> {
  let shown = JSON.stringify(got) ?? String(got);
  if (shown.length > 80) shown = `${shown.slice(0, 79)}…`;
  return { ok: false, problem: `${what} is not ${expected}: ${shown}` };
}
