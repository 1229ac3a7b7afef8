import { BagpipeError } from "./errors.ts";
import {
  type AttachedEndpoint,
  type BgpPeer,
  type EvpnDataplane,
  type Parsed,
  parseEvpnDataplane,
  parseInstance,
  parseInstances,
  parsePeers,
  parsePorts,
  type VpnInstanceDetail,
  type VpnInstanceSummary,
} from "./looking_glass.ts";
import {
  attachBody,
  type AttachRequest,
  detachBody,
  type DetachRequest,
  type WireBody,
} from "./requests.ts";
import { excerpt } from "./daemon_message.ts";
import {
  callContext,
  callDaemon,
  type DaemonAnswer,
  type DaemonCall,
  fetchExchange,
} from "./transport.ts";
import { type Exchange, socketExchange } from "./http_exchange.ts";

/** Default time budget of one call; attach measured 0.07-0.5 s on a loaded 2-core node. */
export const DEFAULT_TIMEOUT_MS = 5000;

/** Options of {@link BagpipeClient}. */
export interface BagpipeClientOptions {
  /** Time budget of each call (connect, headers and body), in milliseconds. */
  timeoutMs?: number;
  /**
   * Sends requests through this fetch instead of a plain socket (tests inject an in-process fake
   * daemon here). Without it, each call is one HTTP/1.1 exchange over `Deno.connect`.
   */
  fetch?: typeof fetch;
}

/** Per-call options. */
export interface CallOptions {
  /** Overrides the client's time budget for this call. */
  timeoutMs?: number;
}

/** Endpoint looked up by {@link BagpipeClient.findEndpoint}. */
export interface EndpointQuery {
  vpnInstanceId: string;
  macAddress: string;
  /** When given, the endpoint must carry exactly this "a.b.c.d/len". */
  ipAddress?: string;
}

/**
 * REST client of one node's bagpipe-bgp 17 daemon (usually http://127.0.0.1:8082).
 *
 * Every method sends `Accept: application/json` (so that errors come back as
 * `{code,title,description}`), runs under its own timeout, and throws only
 * {@link BagpipeError}.
 *
 * @example
 * ```ts
 * const bagpipe = new BagpipeClient("http://127.0.0.1:8082", { timeoutMs: 3000 });
 * const identity = await bagpipe.ping();
 * await bagpipe.attach({
 *   vpnInstanceId: "net1", macAddress: "52:54:00:aa:00:01", localPort: "veth1a2b",
 *   ipAddress: "10.27.0.5/16", importRt: ["64512:100"], exportRt: ["64512:100"],
 * });
 * ```
 */
export class BagpipeClient {
  readonly baseUrl: URL;
  readonly #timeoutMs: number;
  readonly #exchange: Exchange;

  /** @throws {TypeError} when baseUrl is not an http(s) URL or timeoutMs is not positive. */
  constructor(baseUrl: string, opts: BagpipeClientOptions = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`BaGPipe base URL ${baseUrl} is not an http(s) URL`);
    }
    // Paths are resolved relative to the base, so it must end with "/".
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    this.baseUrl = url;
    this.#timeoutMs = _checkTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.#exchange = opts.fetch ? fetchExchange(opts.fetch) : socketExchange;
  }

  /**
   * Returns the daemon's identity: a random integer drawn at daemon start, kept as text
   * because it exceeds 2^53. A different value means the daemon restarted and lost every
   * attachment.
   */
  async ping(opts?: CallOptions): Promise<string> {
    const call = this.#call("GET", "ping", "ping", "the daemon", opts);
    const answer = await this.#send(call);
    const identity = answer.text.trim();
    // JSON.parse rounds the integer: keep the digits of the raw text.
    if (typeof answer.json === "number" && /^[0-9]+$/.test(identity)) return identity;
    throw this.#badResponse(call, `identity ${excerpt(answer.text)} is not an integer`);
  }

  /** Attaches an endpoint; repeating an identical attach succeeds. */
  async attach(req: AttachRequest, opts?: CallOptions): Promise<void> {
    const call = this.#call("POST", "attach_localport", "attach", _endpointSubject(req), opts);
    await this.#send(call, attachBody(req));
  }

  /**
   * Detaches an endpoint. Stock 17.0.0 answers 500 to every detach (bug B1) after having
   * withdrawn the route, and that surfaces here as a "server" failure.
   */
  async detach(req: DetachRequest, opts?: CallOptions): Promise<void> {
    const call = this.#call("POST", "detach_localport", "detach", _endpointSubject(req), opts);
    await this.#send(call, detachBody(req));
  }

  /** Lists the configured BGP peers and their state. */
  async peers(opts?: CallOptions): Promise<BgpPeer[]> {
    const call = this.#call("GET", "looking-glass/bgp/peers", "list", "BGP peers", opts);
    return this.#parse(call, (await this.#send(call)).json, parsePeers);
  }

  /** Reads the EVPN dataplane driver: the VTEP address and UDP port its tunnels use. */
  async evpnDataplane(opts?: CallOptions): Promise<EvpnDataplane> {
    const call = this.#call(
      "GET",
      "looking-glass/vpns/dataplane/drivers/evpn",
      "read",
      "the EVPN dataplane driver",
      opts,
    );
    return this.#parse(call, (await this.#send(call)).json, parseEvpnDataplane);
  }

  /** Lists the VPN instances of this node. */
  async instances(opts?: CallOptions): Promise<VpnInstanceSummary[]> {
    const call = this.#call("GET", "looking-glass/vpns/instances", "list", "VPN instances", opts);
    return this.#parse(call, (await this.#send(call)).json, parseInstances);
  }

  /** Reads one VPN instance (VNI, route targets, ...); null when it does not exist. */
  async instance(vpnInstanceId: string, opts?: CallOptions): Promise<VpnInstanceDetail | null> {
    const call = this.#call(
      "GET",
      `looking-glass/vpns/instances/${encodeURIComponent(vpnInstanceId)}`,
      "read",
      `VPN instance ${JSON.stringify(vpnInstanceId)}`,
      opts,
    );
    const answer = await this.#sendOrMissing(call);
    return answer === null ? null : this.#parse(call, answer.json, parseInstance);
  }

  /** Lists the endpoints attached to one VPN instance; null when the instance does not exist. */
  async instancePorts(
    vpnInstanceId: string,
    opts?: CallOptions,
  ): Promise<AttachedEndpoint[] | null> {
    const call = this.#call(
      "GET",
      `looking-glass/vpns/instances/${encodeURIComponent(vpnInstanceId)}/ports`,
      "list",
      `ports of VPN instance ${JSON.stringify(vpnInstanceId)}`,
      opts,
    );
    const answer = await this.#sendOrMissing(call);
    return answer === null
      ? null
      : this.#parse(call, answer.json, (json) => parsePorts(vpnInstanceId, json));
  }

  /**
   * Finds an attached endpoint by instance and MAC (and IP when given), for CHECK.
   * MACs compare case-insensitively; the IP must be the string sent at attach.
   */
  async findEndpoint(query: EndpointQuery, opts?: CallOptions): Promise<AttachedEndpoint | null> {
    const endpoints = await this.instancePorts(query.vpnInstanceId, opts) ?? [];
    const mac = query.macAddress.toLowerCase();
    return endpoints.find((endpoint) =>
      endpoint.macAddress.toLowerCase() === mac &&
      (query.ipAddress === undefined || endpoint.ipAddress === query.ipAddress)
    ) ?? null;
  }

  /**
   * Lists every endpoint attached on this node, across instances, for garbage collection.
   * An instance that disappears between the listing and the read is skipped.
   */
  async attachedEndpoints(opts?: CallOptions): Promise<AttachedEndpoint[]> {
    const all: AttachedEndpoint[] = [];
    for (const instance of await this.instances(opts)) {
      all.push(...(await this.instancePorts(instance.id, opts) ?? []));
    }
    return all;
  }

  #call(
    method: DaemonCall["method"],
    path: string,
    operation: string,
    subject: string,
    opts: CallOptions | undefined,
  ): DaemonCall {
    const timeoutMs = opts?.timeoutMs === undefined
      ? this.#timeoutMs
      : _checkTimeout(opts.timeoutMs);
    return { method, path, operation, subject, timeoutMs };
  }

  /** Sends a call, after refusing a request body that failed its checks. */
  #send(call: DaemonCall, wire?: WireBody): Promise<DaemonAnswer> {
    if (wire !== undefined && !wire.ok) {
      const context = callContext(this.baseUrl, call);
      return Promise.reject(new BagpipeError("rejected", context, wire.problems.join("; ")));
    }
    return callDaemon(this.#exchange, this.baseUrl, { ...call, body: wire?.body });
  }

  /** Like #send, but a looking-glass "No such looking glass object" 404 gives null. */
  async #sendOrMissing(call: DaemonCall): Promise<DaemonAnswer | null> {
    try {
      return await this.#send(call);
    } catch (error) {
      if (
        error instanceof BagpipeError && error.status === 404 &&
        error.detail.startsWith("No such looking glass object")
      ) {
        return null;
      }
      throw error;
    }
  }

  #parse<T>(call: DaemonCall, json: unknown, parser: (json: unknown) => Parsed<T>): T {
    const parsed = parser(json);
    if (parsed.ok) return parsed.value;
    throw this.#badResponse(call, parsed.problem);
  }

  #badResponse(call: DaemonCall, problem: string): BagpipeError {
    return new BagpipeError("bad-response", callContext(this.baseUrl, call), problem, {
      status: 200,
    });
  }
}

function _endpointSubject(req: DetachRequest): string {
  const ip = req.ipAddress === undefined ? "" : ` IP ${req.ipAddress}`;
  return `MAC ${req.macAddress.toLowerCase()}${ip} on port ${req.localPort} in VPN instance ` +
    JSON.stringify(req.vpnInstanceId);
}

function _checkTimeout(timeoutMs: number): number {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`BaGPipe call timeout ${timeoutMs} ms is not a positive number`);
  }
  return timeoutMs;
}
