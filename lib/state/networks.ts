import { atomicWrite } from "../atomic_write.ts";

/**
 * What the node needs to remake and re-advertise one network's infrastructure (bridge, VXLAN
 * device, gateway, masquerade) without a pod at hand: written when ADD first makes it, read by
 * resync (which re-attaches the gateway after a daemon restart even when no pod is left) and by
 * CHECK and STATUS.
 */
export interface NetworkSpec {
  /** The VPN instance id: names the bridge, the VXLAN device and the masquerade chain. */
  instanceId: string;
  bagpipeUrl: string;
  vni: number;
  mtu: number;
  importRt: string[];
  exportRt: string[];
  readvertise?: { fromRt: string[]; toRt: string[] };
  /** The node's gateway address "a.b.c.d/len" on the bridge (isGateway); absent for L2 only. */
  gatewayCidr?: string;
  /** The bridge's MAC (0a:58: + the gateway's IPv4). */
  mac?: string;
  /** ipMasq: the subnet masqueraded, and destinations left alone. */
  masquerade?: { subnet: string; nonMasqueradeCidrs: string[] };
}

/** A network's spec and the daemon identity its gateway endpoint was last attached under. */
export interface NetworkRecord {
  spec: NetworkSpec;
  gatewayIdentity?: string;
}

const dirOf = (stateDir: string) => `${stateDir}/networks`;

/** Reads a network's record; undefined when there is none (or it is unreadable: it is rewritten). */
export function loadNetwork(stateDir: string, instanceId: string): NetworkRecord | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dirOf(stateDir)}/${instanceId}.json`));
  } catch {
    return undefined;
  }
}

/** Writes a network's record atomically. */
export function saveNetwork(stateDir: string, record: NetworkRecord): void {
  Deno.mkdirSync(dirOf(stateDir), { recursive: true, mode: 0o700 });
  atomicWrite(
    `${dirOf(stateDir)}/${record.spec.instanceId}.json`,
    JSON.stringify(record, null, 1) + "\n",
    0o600,
  );
}

/** Every network recorded on this node. */
export function listNetworks(stateDir: string): NetworkRecord[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dirOf(stateDir))];
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile && e.name.endsWith(".json"))
    .map((e) => loadNetwork(stateDir, e.name.slice(0, -5)))
    .filter((r): r is NetworkRecord => r !== undefined);
}
