/**
 * A fake bagpipe-bgp 17 REST API (Hono) with fault injection, for unit tests.
 *
 * It models what the CNI plugin relies on, with the answers measured on the real daemon
 * (Debian python3-networking-bagpipe 17.0.0): `GET /ping`, `POST /attach_localport` and
 * `POST /detach_localport` with their 400/500 validation answers, and the looking glass
 * (`bgp/peers`, `vpns/instances`, `vpns/instances/<id>`, `.../ports`, `.../adv_routes`).
 * Error bodies follow the Accept header like the daemon's (pecan/webob): JSON
 * `{code,title,description}` for application/json, an HTML page for `* /*`, plain text
 * without Accept, and 406 when JSON is not acceptable.
 *
 * Optional stock bugs: B1 (detach withdraws the route, answers 500 and keeps the endpoint),
 * B3 (when `interfaces` is given, attaching a missing interface answers 500 and a new
 * instance stays registered). Not modelled: B2, ipvpn, ovs ports, BGP routes received.
 *
 * Faults the real daemon cannot produce on demand are injected per path: slow answers,
 * slow bodies, HTML 500 pages, garbage, truncated bodies, wrong content type, a connection
 * cut mid-body (these work in-process and behind `Deno.serve`), and connection refused or
 * reset (only through {@link BagpipeFake.fetch}, which throws like Deno's fetch).
 *
 * @example
 * ```ts
 * const fake = createBagpipeFake();
 * const client = new BagpipeClient("http://127.0.0.1:8082", { fetch: fake.fetch });
 * fake.inject({ kind: "delay", ms: 200 }, { path: "/attach_localport", times: 1 });
 * ```
 */
import { Hono } from "hono";
import type { Context } from "hono";

/** A fault produced by the fake server itself (in-process and over a real socket). */
export type ServerFault =
  /** Answer normally, after `ms` milliseconds (abandoned when the client goes away). */
  | { kind: "delay"; ms: number }
  /** Send the headers now and the body after `ms` milliseconds. */
  | { kind: "slow-body"; ms: number }
  /** Do not process; answer a webob-style HTML error page (default status 500). */
  | { kind: "html-error"; status?: number; message?: string }
  /** Process, then answer `body` (default: not JSON) as application/json with `status`. */
  | { kind: "garbage"; status?: number; body?: string }
  /** Process, then send only the first half of the real body. */
  | { kind: "truncated" }
  /** Process, then label the real body with another content type. */
  | { kind: "content-type"; contentType: string }
  /** Process, then send half of the body and break the connection. */
  | { kind: "cut-connection" };

/** A fault of the connection, produced only by the injected fetch. */
export type TransportFault =
  /** The request never reaches the daemon: fetch throws "Connection refused". */
  | { kind: "refused" }
  /** The daemon processes the request, then the connection closes before the answer. */
  | { kind: "reset" };

/** Any injectable fault. */
export type Fault = ServerFault | TransportFault;

/** Which requests a fault applies to. */
export interface FaultMatch {
  /** Exact URL path ("/attach_localport") or a pattern; default: every path. */
  path?: string | RegExp;
  /** How many matching requests it applies to; default: all until cleared. */
  times?: number;
}

/** A request as the fake received it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  accept: string | null;
  contentType: string | null;
  /** Raw body text ("" for GET). */
  bodyText: string;
  /** Body parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
}

/** An endpoint attached in the fake's state. */
export interface FakeEndpoint {
  vpnInstanceId: string;
  localPort: string;
  macAddress: string;
  ipAddress: string | null;
  description: string | null;
  /** False once a B1 detach withdrew its route without forgetting it. */
  advertised: boolean;
}

/** Options of {@link createBagpipeFake}. */
export interface BagpipeFakeOptions {
  /** `/ping` identity; default: a random 128-bit integer, like the daemon. */
  identity?: string;
  /** Model stock bug B1: every detach answers 500 after withdrawing, endpoint kept. */
  detachBug?: boolean;
  /** Existing host interfaces; when given, attaching another one answers 500 (B3). */
  interfaces?: Iterable<string>;
  /** BGP peers of the looking glass; default one Established peer 10.213.0.9. */
  peers?: { id: string; state: string }[];
  /** Node's BGP local address (route distinguishers, next hops); default 10.213.0.1. */
  localAddress?: string;
}

/** The fake daemon and its controls. */
export interface BagpipeFake {
  /** The Hono app; serve it with `Deno.serve(..., fake.app.fetch)` for socket tests. */
  readonly app: Hono;
  /** In-process fetch into the app, with transport faults and abort signals honoured. */
  readonly fetch: typeof fetch;
  /** Every request that reached the app, oldest first. */
  readonly requests: ReceivedRequest[];
  /** BGP peers shown by the looking glass; mutable. */
  readonly peers: { id: string; state: string }[];
  /** Current identity returned by `/ping`. */
  readonly identity: string;
  /** Adds a fault; faults are tried in the order added. */
  inject(fault: Fault, match?: FaultMatch): void;
  /** Removes every fault. */
  clearFaults(): void;
  /** Endpoints currently known, across instances. */
  endpoints(): FakeEndpoint[];
  /** Ids of the registered VPN instances. */
  instanceIds(): string[];
  /** Simulates a daemon restart: new identity, every instance and endpoint forgotten. */
  restart(): void;
}

/** URL prefix of the looking glass. */
const LOOKING_GLASS = "/looking-glass";

/** First label of the daemon's allocator (VNIs and per-port labels). */
const FIRST_LABEL = 16;

interface _Instance {
  id: string;
  name: string;
  importRts: string[];
  exportRts: string[];
  gatewayIp: string | null;
  subnetPrefixLength: number | null;
  vni: number;
  forcedVni: boolean;
  readvertise: { from: string[]; to: string[] } | null;
  description: string | null;
  rd: number;
  /** MAC -> port name and per-port label. */
  macPorts: Map<string, { localPort: string; label: number }>;
  /** `${mac} ${ip}` -> endpoint and its route distinguisher. */
  endpoints: Map<string, FakeEndpoint & { rd: number }>;
}

interface _ArmedFault {
  fault: Fault;
  path?: string | RegExp;
  remaining: number;
}

/** An answer the daemon gives through `pecan.abort(status, description)`. */
class _Abort extends Error {
  constructor(readonly status: number, readonly description: string | null) {
    super(description ?? String(status));
  }
}

/** Creates a fresh fake daemon; each call has its own state. */
export function createBagpipeFake(options: BagpipeFakeOptions = {}): BagpipeFake {
  const localAddress = options.localAddress ?? "10.213.0.1";
  const interfaces = options.interfaces === undefined ? undefined : new Set(options.interfaces);
  const requests: ReceivedRequest[] = [];
  const peers = options.peers?.map((peer) => ({ ...peer })) ??
    [{ id: "10.213.0.9", state: "Established" }];
  let faults: _ArmedFault[] = [];
  let identity = options.identity ?? _randomIdentity();
  let instances = new Map<string, _Instance>();
  let nextLabel = FIRST_LABEL;
  let nextRd = 0;
  let nextInstanceNumber = 1;

  function takeFault(path: string, transport: boolean): Fault | undefined {
    const armed = faults.find((candidate) =>
      _isTransportFault(candidate.fault) === transport && candidate.remaining > 0 &&
      (candidate.path === undefined ||
        (typeof candidate.path === "string" ? candidate.path === path : candidate.path.test(path)))
    );
    if (armed === undefined) return undefined;
    armed.remaining -= 1;
    return armed.fault;
  }

  // ---- attach / detach, following vpn/manager.py and vpn/vpn_instance.py of 17.0.0 ----

  function attach(params: Record<string, unknown>): void {
    _checkVpnType(params);
    const checked = _checkEndpointParams(params, ["import_rt", "export_rt"]);
    if (
      params.advertise_subnet !== undefined && typeof params.advertise_subnet !== "boolean"
    ) {
      throw new _Abort(400, "API error: 'advertise_subnet' must be a boolean");
    }
    const importRts = _routeTargets(_rtList(params.import_rt));
    const exportRts = _routeTargets(_rtList(params.export_rt));
    let readvertise: _Instance["readvertise"] = null;
    if (_truthy(params.readvertise)) {
      const spec = params.readvertise as Record<string, unknown>;
      // KeyError or a non-list -> unhandled exception -> 500.
      if (!Array.isArray(spec.from_rt) || !Array.isArray(spec.to_rt)) throw _plugFailure();
      readvertise = { from: _routeTargets(spec.from_rt), to: _routeTargets(spec.to_rt) };
    }
    const vni = params.vni ?? 0;
    if (_truthy(vni) && !Number.isInteger(vni)) throw _plugFailure();

    const id = checked.vpnInstanceId;
    let instance = instances.get(id);
    if (instance === undefined) {
      if (_truthy(vni) && [...instances.values()].some((i) => i.forcedVni && i.vni === vni)) {
        throw new _Abort(400, `API error: A VPN instance using vni ${vni} already exists.`);
      }
      instance = {
        id,
        name: `EVI-${nextInstanceNumber++}`,
        importRts,
        exportRts,
        gatewayIp: typeof params.gateway_ip === "string" ? params.gateway_ip : null,
        subnetPrefixLength: checked.prefixLength,
        vni: _truthy(vni) ? vni as number : nextLabel++,
        forcedVni: _truthy(vni),
        readvertise,
        description: null,
        rd: nextRd++,
        macPorts: new Map(),
        endpoints: new Map(),
      };
      instances.set(id, instance);
    }
    instance.description = typeof params.instance_description === "string"
      ? params.instance_description
      : null;
    instance.importRts = importRts;
    instance.exportRts = exportRts;

    // vif_plugged
    const { macAddress: mac, ipAddress: ip, localPort } = checked;
    const known = instance.macPorts.get(mac);
    if (known !== undefined && known.localPort !== localPort) {
      throw new _Abort(
        400,
        "API error: Port information is not consistent. MAC address cannot be bound to two " +
          `different ports. Previous plug for port ${localPort} ({'linuxif': '${known.localPort}'}` +
          ` != {'linuxif': '${localPort}'})`,
      );
    }
    let plen = ip === null ? null : checked.prefixLength;
    if (plen !== null && params.advertise_subnet !== true) plen = 32;
    const ipKnown = [...instance.endpoints.values()].some((endpoint) => endpoint.ipAddress === ip);
    if (ip !== null && plen === 32 && ipKnown) _checkIpBoundToMac(instance, mac, ip);
    // EVPN routes only carry host addresses: the daemon asserts plen == 32.
    if (ip !== null && plen !== 32) throw _plugFailure();
    // The driver cannot enslave a missing interface. As for every failure from here on,
    // an instance created by this attach stays registered (B3).
    if (interfaces !== undefined && !interfaces.has(localPort)) throw _plugFailure();
    const key = _endpointKey(mac, ip);
    const existing = instance.endpoints.get(key);
    const label = known?.label ?? nextLabel++;
    instance.macPorts.set(mac, { localPort, label });
    instance.endpoints.set(key, {
      vpnInstanceId: id,
      localPort,
      macAddress: mac,
      ipAddress: ip,
      description: typeof params.description === "string" ? params.description : null,
      advertised: true,
      rd: existing?.rd ?? nextRd++,
    });
  }

  function detach(params: Record<string, unknown>): void {
    _checkVpnType(params);
    const checked = _checkEndpointParams(params, []);
    const instance = instances.get(checked.vpnInstanceId);
    if (instance === undefined) {
      throw new _Abort(400, `API error: VPN ${checked.vpnInstanceId} could not be found`);
    }
    const mac = checked.macAddress;
    if (checked.ipAddress !== null) {
      unplug(instance, mac, checked.ipAddress);
    } else {
      // Wildcard: every IP of the MAC, then the MAC-only endpoint. An unknown MAC is a no-op.
      const ips = [...instance.endpoints.values()]
        .filter((endpoint) => endpoint.macAddress === mac && endpoint.ipAddress !== null);
      let failed = false;
      for (const endpoint of ips) {
        try {
          unplug(instance, mac, endpoint.ipAddress);
        } catch {
          failed = true;
        }
      }
      if (failed) throw _unplugFailure();
      if (instance.endpoints.has(_endpointKey(mac, null))) unplug(instance, mac, null);
    }
    if (instance.endpoints.size === 0) instances.delete(instance.id);
  }

  function unplug(instance: _Instance, mac: string, ip: string | null): void {
    if (!instance.macPorts.has(mac)) {
      const shown = `('${mac}', ${ip === null ? "None" : `'${ip}'`})`;
      throw new _Abort(400, `API error: Endpoint ${shown} not plugged yet, can't unplug`);
    }
    if (ip !== null) _checkIpBoundToMac(instance, mac, ip);
    const key = _endpointKey(mac, ip);
    const endpoint = instance.endpoints.get(key);
    if (endpoint === undefined) throw _unplugFailure();
    if (options.detachBug) {
      // B1: the route is withdrawn (once), then the driver fails; the state is kept.
      endpoint.advertised = false;
      throw _unplugFailure();
    }
    instance.endpoints.delete(key);
    if (![...instance.endpoints.values()].some((other) => other.macAddress === mac)) {
      instance.macPorts.delete(mac);
    }
  }

  // ---- the Hono app ----

  const app = new Hono();

  app.use("*", async (c, next) => {
    const bodyText = c.req.method === "GET" ? "" : await c.req.text();
    requests.push({
      method: c.req.method,
      path: c.req.path,
      accept: c.req.header("accept") ?? null,
      contentType: c.req.header("content-type") ?? null,
      bodyText,
      body: _parseJson(bodyText),
    });
    const fault = takeFault(c.req.path, false) as ServerFault | undefined;
    if (fault?.kind === "html-error") {
      const status = fault.status ?? 500;
      const message = fault.message ?? "Proxy Error";
      return c.html(_webobHtml(status, message), status as 500);
    }
    if (fault?.kind === "delay") await _sleep(fault.ms, c.req.raw.signal);
    await next();
    if (fault !== undefined) c.res = await _applyAfterFault(fault, c.res);
    return undefined;
  });

  app.get("/ping", (c) => _answer(c, identity));

  app.post("/attach_localport", (c) =>
    _process(c, "plug", "attach_localport", (params) => {
      attach(params);
      return "null";
    }));

  app.post("/detach_localport", (c) =>
    _process(c, "unplug", "detach_localport", (params) => {
      detach(params);
      return "null";
    }));

  for (const path of ["/attach_localport", "/detach_localport"]) {
    app.get(path, (c) => _answer(c, "{}"));
    app.on(["PUT", "DELETE"], path, (c) => _error(c, new _Abort(405, "")));
  }

  app.get(`${LOOKING_GLASS}/*`, (c) => {
    const segments = c.req.path.slice(LOOKING_GLASS.length + 1).split("/")
      .filter((segment) => segment !== "").map(decodeURIComponent);
    const base = new URL(c.req.url).origin + LOOKING_GLASS;
    try {
      return _answer(c, JSON.stringify(lookingGlass(base, segments)));
    } catch (error) {
      if (error instanceof _Abort) return _error(c, error);
      throw error;
    }
  });

  app.notFound((c) => _error(c, new _Abort(404, null)));

  app.onError((error, c) => {
    // A client that gave up (timeout) is not a bug of the fake: answer quietly.
    if (c.req.raw.signal.aborted) return c.body(null, 499 as 500);
    console.error("bagpipe fake crashed:", error);
    return c.body("fake crashed", 500);
  });

  function lookingGlass(base: string, segments: string[]): unknown {
    const missing = (item: string, at: string) =>
      new _Abort(404, `No such looking glass object: ${item} at ${base}${at}`);
    const [first, second, third, fourth] = segments;
    if (first === "bgp" && second === "peers" && third === undefined) {
      return peers.map((peer) => ({ ...peer, href: `${base}/bgp/peers/${peer.id}` }));
    }
    if (first === "vpns" && second === "instances") {
      if (third === undefined) {
        return [...instances.values()].map((instance) => ({
          id: instance.id,
          name: instance.name,
          ...(instance.description === null ? {} : { description: instance.description }),
          href: `${base}/vpns/instances/${encodeURIComponent(instance.id)}`,
        }));
      }
      const instance = instances.get(third);
      if (instance === undefined) throw missing(third, "/vpns/instances");
      const href = `${base}/vpns/instances/${encodeURIComponent(instance.id)}`;
      if (fourth === undefined) return _instanceInfo(instance, href);
      if (segments.length === 4 && fourth === "ports") return _portsInfo(instance, localAddress);
      if (segments.length === 4 && fourth === "adv_routes") {
        return _advertisedRoutes(instance, localAddress, base);
      }
      throw missing(`'${fourth}'`, `${href.slice(base.length)}/${fourth}`);
    }
    if (first === "vpns" && second === "dataplane" && third === "drivers" && fourth === "evpn") {
      return {
        name: "LinuxVXLANDataplaneDriver",
        local_address: localAddress,
        supported_encaps: ["encap:VXLAN"],
        config: {
          dataplane_local_address: null,
          dataplane_driver: "linux_vxlan.LinuxVXLANDataplaneDriver",
          vxlan_dst_port: 4789,
        },
        kernel_release: "6.1.0",
      };
    }
    if (first === "vpns" && second === "instances_per_vni" && third === undefined) {
      return Object.fromEntries(
        [...instances.values()].filter((instance) => instance.forcedVni).map((instance) => [
          String(instance.vni),
          { name: instance.name, external_instance_id: instance.id },
        ]),
      );
    }
    throw missing(`'${first ?? ""}'`, `/${segments.join("/")}`);
  }

  // ---- the in-process fetch with transport faults ----

  const fakeFetch = async (
    input: RequestInfo | URL,
    init?: RequestInit,
  ): Promise<Response> => {
    const request = new Request(input, init);
    // Deno's fetch sends "Accept: */*" when the caller sets none.
    if (!request.headers.has("accept")) request.headers.set("accept", "*/*");
    const signal = request.signal;
    signal.throwIfAborted();
    const path = new URL(request.url).pathname;
    const fault = takeFault(path, true) as TransportFault | undefined;
    if (fault?.kind === "refused") {
      throw _denoFetchError(
        `error sending request for url (${request.url}): client error (Connect): ` +
          "tcp connect error: Connection refused (os error 111)",
      );
    }
    const response = await _abortable(Promise.resolve(app.fetch(request)), signal);
    if (fault?.kind === "reset") {
      await response.body?.cancel();
      throw _denoFetchError(
        `error sending request for url (${request.url}): client error (SendRequest): ` +
          "connection closed before message completed",
      );
    }
    return _withAbortableBody(response, signal);
  };

  return {
    app,
    fetch: fakeFetch as typeof fetch,
    requests,
    peers,
    get identity() {
      return identity;
    },
    inject(fault, match = {}) {
      faults.push({ fault, path: match.path, remaining: match.times ?? Infinity });
    },
    clearFaults() {
      faults = [];
    },
    endpoints() {
      return [...instances.values()].flatMap((instance) =>
        [...instance.endpoints.values()].map(({ rd: _rd, ...endpoint }) => ({ ...endpoint }))
      );
    },
    instanceIds() {
      return [...instances.keys()];
    },
    restart() {
      identity = _randomIdentity();
      instances = new Map();
      nextLabel = FIRST_LABEL;
      nextRd = 0;
      nextInstanceNumber = 1;
    },
  };
}

// ---- request checks shared by attach and detach (validate_convert_params) ----

interface _CheckedEndpoint {
  vpnInstanceId: string;
  macAddress: string;
  localPort: string;
  ipAddress: string | null;
  prefixLength: number | null;
}

function _checkVpnType(params: Record<string, unknown>): void {
  if (!("vpn_type" in params)) throw new _Abort(400, "API error: missing instance_type");
  if (params.vpn_type !== "evpn") {
    throw new _Abort(400, `API error: unknown vpn_type: ${String(params.vpn_type)}`);
  }
}

function _checkEndpointParams(
  params: Record<string, unknown>,
  alsoMandatory: string[],
): _CheckedEndpoint {
  for (const name of ["vpn_instance_id", "mac_address", "local_port", ...alsoMandatory]) {
    if (!(name in params)) throw new _Abort(400, `API error: Missing parameter: '${name}'`);
  }
  const port = typeof params.local_port === "string"
    ? { linuxif: params.local_port }
    : params.local_port;
  if (!_isRecord(port) || !("linuxif" in port || "evpn" in port)) {
    throw new _Abort(
      400,
      "API error: Mandatory key is missing in local_port parameter (linuxif, or evpn)",
    );
  }
  const mac = params.mac_address;
  if (typeof mac !== "string" || !/^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i.test(mac)) {
    throw new _Abort(400, `API error: MAC address ${String(mac)} is not valid`);
  }
  let ipAddress: string | null = null;
  let prefixLength: number | null = null;
  if ("ip_address" in params) {
    const ip = String(params.ip_address);
    const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(ip);
    if (match === null) throw new _Abort(400, `API error: IP address ${ip} is not valid`);
    // netaddr parses 10.27.0.500 but later code fails: the daemon answers 500.
    if (match.slice(1, 5).some((octet) => Number(octet) > 255)) throw _plugFailure();
    prefixLength = match[5] === undefined ? 32 : Number(match[5]);
    if (prefixLength > 32) throw new _Abort(400, `API error: IP address ${ip} is not valid`);
    ipAddress = ip;
  }
  if (typeof port.linuxif !== "string") throw _plugFailure();
  return {
    vpnInstanceId: String(params.vpn_instance_id),
    macAddress: mac,
    localPort: port.linuxif,
    ipAddress,
    prefixLength,
  };
}

function _checkIpBoundToMac(instance: _Instance, mac: string, ip: string): void {
  const macs = new Set(
    [...instance.endpoints.values()].filter((endpoint) => endpoint.ipAddress === ip)
      .map((endpoint) => endpoint.macAddress),
  );
  if (!macs.has(mac)) {
    const shown = macs.size === 0 ? "set()" : `{${[...macs].map((m) => `'${m}'`).join(", ")}}`;
    throw new _Abort(
      400,
      `API error: Inconsistent endpoint info: IP ${ip} already bound to a MAC address ` +
        `different from ${mac} (${shown})`,
    );
  }
}

/** "a:b" strings or a comma-separated string; a malformed target is a 500 in the daemon. */
function _rtList(value: unknown): unknown[] {
  if (typeof value === "string") return value.split(/,+ */);
  if (Array.isArray(value)) return value;
  throw _plugFailure();
}

function _routeTargets(list: unknown[]): string[] {
  const targets = new Set<string>();
  for (const rt of list) {
    if (rt === "") continue;
    if (typeof rt !== "string" || !/^\d+:\d+$/.test(rt)) throw _plugFailure();
    const [asn, number] = rt.split(":").map(Number);
    targets.add(`${asn}:${number}`);
  }
  return [...targets];
}

function _plugFailure(): _Abort {
  return new _Abort(500, "An error occurred during local port plug to VPN");
}

function _unplugFailure(): _Abort {
  return new _Abort(500, "An error occurred during local port unplug from VPN");
}

// ---- answers ----

const _TITLES: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

const _EXPLANATIONS: Record<number, string> = {
  400: "The server could not comply with the request since it is either malformed or " +
    "otherwise incorrect.",
  404: "The resource could not be found.",
  405: "The method is not allowed for this resource.",
  406: "The resource could not be generated that was acceptable to your browser\n" +
    "(content of type text/html. ",
  500: "The server has either erred or is incapable of performing the requested operation.",
};

async function _process(
  c: Context,
  verb: "plug" | "unplug",
  operation: string,
  handle: (params: Record<string, unknown>) => string,
): Promise<Response> {
  const received = _parseJson(await c.req.text());
  try {
    if (received === undefined) {
      throw new _Abort(400, "No local port details received");
    }
    if (!_isRecord(received)) {
      // `**params` of a list: TypeError -> 500.
      throw verb === "plug" ? _plugFailure() : _unplugFailure();
    }
    return _answer(c, handle({ ...received }));
  } catch (error) {
    if (error instanceof _Abort) return _error(c, error);
    throw new Error(`fake ${operation} crashed`, { cause: error });
  }
}

function _answer(c: Context, json: string): Response {
  if (!_acceptsJson(c.req.header("accept"))) return _error(c, new _Abort(406, null));
  return c.body(json, 200, { "content-type": "application/json" });
}

function _error(c: Context, abort: _Abort): Response {
  const { status, description } = abort;
  const accept = c.req.header("accept");
  if (accept === undefined) {
    const text = `${status} ${_TITLES[status]}\n\n${_EXPLANATIONS[status] ?? ""}\n\n ` +
      `${description ?? ""}  `;
    return c.body(text, status as 400, { "content-type": "text/plain; charset=UTF-8" });
  }
  if (/application\/json/i.test(accept)) {
    return c.body(
      JSON.stringify({ code: status, title: _TITLES[status], description }),
      status as 400,
      { "content-type": "application/json" },
    );
  }
  const shown = _acceptsJson(accept) ? abort : new _Abort(406, null);
  return c.body(_webobHtml(shown.status, shown.description ?? ""), shown.status as 400, {
    "content-type": "text/html; charset=UTF-8",
  });
}

function _acceptsJson(accept: string | undefined): boolean {
  return accept === undefined || /application\/json|application\/\*|\*\/\*/i.test(accept);
}

/** The error page webob renders for a browser. */
function _webobHtml(status: number, message: string): string {
  const title = `${status} ${_TITLES[status] ?? "Error"}`;
  return `<html>\n <head>\n  <title>${title}</title>\n </head>\n <body>\n  <h1>${title}</h1>\n` +
    `  ${_EXPLANATIONS[status] ?? ""}<br /><br />\n${_escapeHtml(message)}\n\n\n </body>\n</html>`;
}

function _escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
}

function _instanceInfo(instance: _Instance, href: string): Record<string, unknown> {
  return {
    gateway_port: null,
    name: instance.name,
    internals: {
      "event queue length": 0,
      subscriptions: [
        ...[...instance.importRts, ...(instance.readvertise?.from ?? [])]
          .map((rt) => `match:l2vpn/evpn,target:${rt}`).sort(),
        ...instance.importRts.map((rt) => `match:l2vpn/flow-vpn,target:${rt}`).sort(),
      ],
    },
    instance_type: "EVI",
    external_instance_id: instance.id,
    description: instance.description,
    dataplane: { href: `${href}/dataplane` },
    route_targets: {
      import: instance.importRts.map((rt) => `target:${rt}`),
      export: instance.exportRts.map((rt) => `target:${rt}`),
    },
    gateway_ip: instance.gatewayIp,
    subnet_prefix_length: instance.subnetPrefixLength,
    instance_dataplane_id: instance.vni,
    ports: { href: `${href}/ports` },
    readvertise: instance.readvertise === null ? {} : {
      from: instance.readvertise.from.map((rt) => `target:${rt}`),
      to: instance.readvertise.to.map((rt) => `target:${rt}`),
    },
    attract_traffic: {},
    fallback: null,
    received_routes: { href: `${href}/received_routes` },
    best_routes: { href: `${href}/best_routes` },
    adv_routes: { href: `${href}/adv_routes` },
    logs: { href: `${href}/logs` },
  };
}

function _portsInfo(instance: _Instance, localAddress: string): Record<string, unknown> {
  const ports: Record<string, { endpoints: unknown[] }> = {};
  for (const endpoint of instance.endpoints.values()) {
    ports[endpoint.localPort] ??= { endpoints: [] };
    ports[endpoint.localPort].endpoints.push({
      label: instance.macPorts.get(endpoint.macAddress)?.label,
      mac_address: endpoint.macAddress,
      ip_address: endpoint.ipAddress,
      local_pref: null,
      rd: ` rd ${localAddress}:${endpoint.rd}`,
      description: endpoint.description,
      direction: "both",
    });
  }
  return ports;
}

function _advertisedRoutes(instance: _Instance, localAddress: string, base: string): unknown[] {
  const source = { id: instance.name, href: `${base}/bgp/workers/${instance.name}` };
  const targets = instance.exportRts.map((rt) => `target:${rt}`);
  const communities = `[ ${targets.join(" ")} encap:VXLAN ]`;
  const routes: unknown[] = [];
  for (const endpoint of instance.endpoints.values()) {
    if (!endpoint.advertised) continue;
    const ip = endpoint.ipAddress?.split("/")[0] ?? "";
    const nlri = `evpn:macadv::${localAddress}:${instance.rd}:-:0:` +
      `${endpoint.macAddress.toUpperCase()}/48:${ip}: label 1 (${instance.vni})`;
    routes.push({
      [nlri]: {
        "afi-safi": "l2vpn/evpn",
        attributes: { "extended-community": communities, "local-preference": "100" },
        next_hop: localAddress,
        source,
        route_targets: targets,
      },
    });
  }
  routes.push({
    [`evpn:multicast::${localAddress}:${instance.rd}:0:${localAddress}`]: {
      "afi-safi": "l2vpn/evpn",
      attributes: {
        "extended-community": communities,
        "pmsi-tunnel": `pmsi:ingressreplication:0:0(${instance.vni}):${localAddress}`,
      },
      next_hop: localAddress,
      source,
      route_targets: targets,
    },
  });
  return routes;
}

// ---- faults ----

function _isTransportFault(fault: Fault): fault is TransportFault {
  return fault.kind === "refused" || fault.kind === "reset";
}

async function _applyAfterFault(fault: ServerFault, response: Response): Promise<Response> {
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  switch (fault.kind) {
    case "garbage":
      headers.set("content-type", "application/json");
      return new Response(fault.body ?? "<<< this is not JSON {", {
        status: fault.status ?? 200,
        headers,
      });
    case "truncated": {
      const text = await response.text();
      return new Response(text.slice(0, Math.floor(text.length / 2)), {
        status: response.status,
        headers,
      });
    }
    case "content-type":
      headers.set("content-type", fault.contentType);
      return new Response(response.body, { status: response.status, headers });
    case "slow-body": {
      const bytes = new Uint8Array(await response.arrayBuffer());
      return new Response(_delayedStream(bytes, fault.ms), { status: response.status, headers });
    }
    case "cut-connection": {
      const bytes = new Uint8Array(await response.arrayBuffer());
      const half = bytes.slice(0, Math.max(1, Math.floor(bytes.length / 2)));
      let sent = false;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) {
            return controller.error(
              new Error("injected fault: the fake daemon cut the connection"),
            );
          }
          sent = true;
          controller.enqueue(half);
        },
      });
      return new Response(stream, { status: response.status, headers });
    }
    case "delay":
    case "html-error":
      return response;
  }
}

/** Body that sends its bytes after `ms`, cancelled cleanly when the reader goes away. */
function _delayedStream(bytes: Uint8Array, ms: number): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setTimeout(() => {
        controller.enqueue(bytes);
        controller.close();
      }, ms);
    },
    cancel() {
      clearTimeout(timer);
    },
  });
}

/** Sleeps `ms`, or until `signal` aborts (then rejects with its reason). */
function _sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Rejects with the signal's reason as soon as it aborts, like fetch does. */
function _abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The response with a body that fails like Deno's: on abort, or when the peer cuts it. */
function _withAbortableBody(response: Response, signal: AbortSignal): Response {
  if (response.body === null) return response;
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await _abortable(reader.read(), signal);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        await reader.cancel().catch(() => {});
        controller.error(
          signal.aborted ? signal.reason : new TypeError("error reading a body from connection", {
            cause: error,
          }),
        );
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** The error Deno's fetch throws for connection failures. */
function _denoFetchError(detail: string): TypeError {
  return new TypeError("fetch failed", { cause: new Error(detail) });
}

// ---- small helpers ----

function _endpointKey(mac: string, ip: string | null): string {
  return `${mac} ${ip ?? "-"}`;
}

function _randomIdentity(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return BigInt(`0x${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`)
    .toString();
}

function _parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Python truthiness for the JSON values the daemon tests with `if x:`. */
function _truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (_isRecord(value)) return Object.keys(value).length > 0;
  return value !== undefined && value !== null && value !== false && value !== 0 &&
    value !== "";
}
