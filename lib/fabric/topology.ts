import { BAGPIPE_API_PORT } from "./bagpipe_config.ts";

/**
 * The fabric's shape. "one-dc" (the default): one underlay segment, one route reflector.
 * "two-dc": two datacenters, each its own underlay segment, reflector and nodes, joined by a
 * router netns (the inter-DC link); the reflectors peer with each other over it.
 */
export type TopologyKind = "one-dc" | "two-dc";

/** Every topology the harness can build. */
export const TOPOLOGY_KINDS: readonly TopologyKind[] = ["one-dc", "two-dc"];

/** The single-DC underlay subnet; it exists only inside the fabric's namespaces. */
export const UNDERLAY_PREFIX = "10.199.0.0/24";
/** Underlay prefix length, for `ip addr add`. */
export const UNDERLAY_PREFIX_LEN = 24;
/** The single-DC route reflector's underlay address. */
export const REFLECTOR_IP = "10.199.0.1";
/** The single-DC Linux bridge in the fabric netns that all underlay veths are plugged into. */
export const FABRIC_BRIDGE = "fabric0";
/** The underlay interface name inside node and reflector namespaces. */
export const UNDERLAY_IFACE = "underlay0";
/** Most nodes one fabric may have (addresses .11 to .210). */
export const MAX_NODES = 200;
/** The inter-DC router's last octet on every DC segment (the nodes' default gateway). */
export const ROUTER_HOST = 254;

/** One Kubernetes node: a netns running bagpipe-bgp. */
export interface FabricNode {
  /** The node's netns name. */
  readonly name: string;
  /** 1-based position in the fabric (across datacenters). */
  readonly index: number;
  /** 1-based datacenter the node is in (always 1 in the single-DC topology). */
  readonly dc: number;
  readonly underlayIp: string;
  /** bagpipe-bgp's REST API, reachable from inside the node netns only. */
  readonly apiUrl: string;
  /** This node's own directory: config, logs, privsep socket dir. */
  readonly workDir: string;
  readonly configFile: string;
  /** bagpipe-bgp's --log-file. */
  readonly logFile: string;
}

/** A route reflector's netns and underlay address. */
export interface ReflectorInfo {
  readonly netns: string;
  readonly ip: string;
  /** 1-based datacenter it serves. */
  readonly dc: number;
}

/** One datacenter: an underlay segment (a bridge in the fabric netns), a reflector, nodes. */
export interface Datacenter {
  /** 1-based. */
  readonly index: number;
  /** The underlay subnet, e.g. "10.199.1.0/24". */
  readonly prefix: string;
  /** The segment's bridge inside the fabric netns. */
  readonly bridge: string;
  readonly reflector: ReflectorInfo;
  readonly nodes: FabricNode[];
  /** The inter-DC router's address on this segment (two-dc only). */
  readonly routerIp?: string;
}

/** The inter-DC link: a router netns with one leg on each DC segment. */
export interface InterDcRouter {
  readonly netns: string;
  /** The router's interface names, one per DC (index 0 = DC1), named `dc<N>` inside the router. */
  readonly legs: string[];
  /** The bridge port (in the fabric netns) of each leg: capture there to see what crosses. */
  readonly ports: string[];
}

/** Where everything of a fabric is, before anything is made. */
export interface TopologyPlan {
  readonly kind: TopologyKind;
  readonly dcs: Datacenter[];
  readonly router?: InterDcRouter;
}

/**
 * Lays out a fabric: names and addresses only. one-dc keeps the historical 10.199.0.0/24,
 * fabric0 and `<id>-rr`; two-dc puts DC d on 10.199.d.0/24 (bridge fabric<d>, reflector
 * `<id>-rr<d>` at .1, router at .254), nodes numbered across DCs (n1..nK in DC1, then DC2).
 */
export function planTopology(
  kind: TopologyKind,
  fabricId: string,
  nodesPerDc: number[],
  fabricDir: string,
): TopologyPlan {
  if (kind === "one-dc") {
    const reflector = { netns: `${fabricId}-rr`, ip: REFLECTOR_IP, dc: 1 };
    const nodes = Array.from(
      { length: nodesPerDc[0]! },
      (_, i) => describeNode(fabricId, i + 1, fabricDir, 1, "10.199.0"),
    );
    return {
      kind,
      dcs: [{ index: 1, prefix: UNDERLAY_PREFIX, bridge: FABRIC_BRIDGE, reflector, nodes }],
    };
  }
  let index = 0;
  const dcs = nodesPerDc.map((count, i): Datacenter => {
    const dc = i + 1;
    const net = `10.199.${dc}`;
    return {
      index: dc,
      prefix: `${net}.0/24`,
      bridge: `fabric${dc}`,
      reflector: { netns: `${fabricId}-rr${dc}`, ip: `${net}.1`, dc },
      routerIp: `${net}.${ROUTER_HOST}`,
      nodes: Array.from(
        { length: count },
        () => describeNode(fabricId, ++index, fabricDir, dc, net),
      ),
    };
  });
  return {
    kind,
    dcs,
    router: {
      netns: `${fabricId}-wan`,
      legs: dcs.map((dc) => `dc${dc.index}`),
      ports: dcs.map((dc) => `wan${dc.index}`),
    },
  };
}

/** Describes node number index (1-based) of the fabric with this id, in DC dc. */
export function describeNode(
  fabricId: string,
  index: number,
  fabricDir: string,
  dc = 1,
  net = "10.199.0",
): FabricNode {
  const name = `${fabricId}-n${index}`;
  const workDir = `${fabricDir}/n${index}`;
  return {
    name,
    index,
    dc,
    underlayIp: `${net}.${10 + index}`,
    apiUrl: `http://127.0.0.1:${BAGPIPE_API_PORT}`,
    workDir,
    configFile: `${workDir}/bgp.conf`,
    logFile: `${workDir}/bagpipe-bgp.log`,
  };
}
