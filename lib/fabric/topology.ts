import { BAGPIPE_API_PORT } from "./bagpipe_config.ts";

/** The underlay subnet; it exists only inside the fabric's namespaces. */
export const UNDERLAY_PREFIX = "10.199.0.0/24";
/** Underlay prefix length, for `ip addr add`. */
export const UNDERLAY_PREFIX_LEN = 24;
/** The route reflector's underlay address. */
export const REFLECTOR_IP = "10.199.0.1";
/** The Linux bridge in the fabric netns that all underlay veths are plugged into. */
export const FABRIC_BRIDGE = "fabric0";
/** The underlay interface name inside node and reflector namespaces. */
export const UNDERLAY_IFACE = "underlay0";
/** Most nodes one fabric may have (addresses .11 to .210). */
export const MAX_NODES = 200;

/** One Kubernetes node: a netns running bagpipe-bgp. */
export interface FabricNode {
  /** The node's netns name. */
  readonly name: string;
  /** 1-based position in the fabric. */
  readonly index: number;
  readonly underlayIp: string;
  /** bagpipe-bgp's REST API, reachable from inside the node netns only. */
  readonly apiUrl: string;
  /** This node's own directory: config, logs, privsep socket dir. */
  readonly workDir: string;
  readonly configFile: string;
  /** bagpipe-bgp's --log-file. */
  readonly logFile: string;
}

/** The route reflector's netns and underlay address. */
export interface ReflectorInfo {
  readonly netns: string;
  readonly ip: string;
}

/** Describes node number index (1-based) of the fabric with this id. */
export function describeNode(fabricId: string, index: number, fabricDir: string): FabricNode {
  const name = `${fabricId}-n${index}`;
  const workDir = `${fabricDir}/n${index}`;
  return {
    name,
    index,
    underlayIp: `10.199.0.${10 + index}`,
    apiUrl: `http://127.0.0.1:${BAGPIPE_API_PORT}`,
    workDir,
    configFile: `${workDir}/bgp.conf`,
    logFile: `${workDir}/bagpipe-bgp.log`,
  };
}
