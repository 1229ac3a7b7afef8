/**
 * What the node's bagpipe-bgp knows, read through its looking glass: its identity, BGP peers,
 * and per VPN instance the VNI, the endpoints attached (ports), the EVPN routes received from
 * the fabric and those it advertises.
 */
import { BagpipeClient } from "../bagpipe/client.ts";
import { type EvpnRoute, fetchInstanceRoutes } from "../bagpipe/evpn_routes.ts";
import type { AttachedEndpoint, BgpPeer } from "../bagpipe/looking_glass.ts";

/** One VPN instance of the daemon. */
export interface DaemonInstance {
  id: string;
  /** The VNI the daemon uses for it on this node (`instance_dataplane_id`). */
  vni: number;
  importRts: string[];
  exportRts: string[];
  ports: AttachedEndpoint[];
  received: EvpnRoute[];
  advertised: EvpnRoute[];
}

/** The daemon's view of the node. */
export interface DaemonState {
  url: string;
  /** Its /ping value; changes when it restarts. */
  identity: string;
  peers: BgpPeer[];
  instances: DaemonInstance[];
}

/** How to reach the daemon. */
export interface DaemonReadOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Reads the daemon's whole view; an instance that disappears while it is being read is left out.
 * @throws {BagpipeError} when the daemon does not answer or answers something unreadable.
 */
export async function readDaemonState(
  url: string,
  opts: DaemonReadOptions = {},
): Promise<DaemonState> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const client = new BagpipeClient(url, { timeoutMs, fetch: opts.fetch });
  const identity = await client.ping();
  const peers = await client.peers();
  const instances: DaemonInstance[] = [];
  for (const summary of await client.instances()) {
    const detail = await client.instance(summary.id);
    const ports = await client.instancePorts(summary.id);
    const routes = { timeoutMs, fetch: opts.fetch };
    const received = await fetchInstanceRoutes(client.baseUrl, summary.id, "received", routes);
    const advertised = await fetchInstanceRoutes(client.baseUrl, summary.id, "advertised", routes);
    if (!detail || !ports || !received || !advertised) continue;
    instances.push({
      id: summary.id,
      vni: detail.vni,
      importRts: detail.importRts,
      exportRts: detail.exportRts,
      ports,
      received,
      advertised,
    });
  }
  return { url, identity, peers, instances };
}
