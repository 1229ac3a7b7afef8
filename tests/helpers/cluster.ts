/**
 * A small "cluster" on the real test fabric: the installed plugin on every node, networks as
 * kubelet would configure them, pods created and deleted by executing the plugin inside the
 * node netns. Used by the end-to-end tests, the demo-like benchmarks and the capture fixtures.
 */
import type { Fabric, FabricNode } from "../../lib/fabric/fabric.ts";
import { execPlugin, installPlugin, leasesIn, type PluginRun } from "./plugin.ts";

/** A network: one VPN instance with its route targets and one subnet, split per node. */
export interface Network {
  name: string;
  instance: string;
  rt: string;
  /** The /16's first two octets, e.g. "10.27". */
  prefix: string;
  /** The forced VNI (the plugin's VXLAN device carries it; unique per network). */
  vni: number;
  /** Left out of the config when undefined, so the plugin's default (true) applies. */
  isGateway?: boolean;
  /** host-local range per node: [start, end] of the third and fourth octet, default x.y.N.10-x.y.N.250. */
  range?: [number, number];
}

/** A pod the cluster created. */
export interface Pod {
  node: FabricNode;
  network: Network;
  containerId: string;
  netns: string;
  ip: string;
  mac: string;
  hostVeth: string;
  /** The ADD result, as prevResult for CHECK. */
  result: Record<string, unknown>;
}

/** The plugin installed on every node of a fabric, and the pods made with it. */
export class Cluster {
  #count = 0;
  readonly pods: Pod[] = [];
  private constructor(readonly fabric: Fabric, readonly binDirs: string[]) {}

  static async create(fabric: Fabric): Promise<Cluster> {
    const binDirs = [];
    for (const node of fabric.nodes) binDirs.push(await installPlugin(`${node.workDir}/cni`));
    return new Cluster(fabric, binDirs);
  }

  plugin(node: FabricNode): string {
    return `${this.binDirs[node.index - 1]}/bagpipe`;
  }

  stateDir(node: FabricNode): string {
    return `${node.workDir}/cni/state`;
  }

  ipamDir(node: FabricNode): string {
    return `${node.workDir}/cni/ipam`;
  }

  /**
   * The network configuration this node's kubelet would hand the plugin, as `install --pod-cidr`
   * writes it: the network's /16 as the subnet, the node's x.y.N.0/24 as its share, the node's
   * own gateway x.y.N.1 (on its bridge).
   */
  config(
    node: FabricNode,
    net: Network,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    const [lo, hi] = net.range ?? [10, 250];
    return {
      cniVersion: "1.1.0",
      name: net.name,
      type: "bagpipe",
      importrt: net.rt,
      exportrt: net.rt,
      vpnInstanceId: net.instance,
      vni: net.vni,
      ...(net.isGateway === undefined ? {} : { isGateway: net.isGateway }),
      stateDir: this.stateDir(node),
      logFile: `${node.workDir}/cni/plugin.log`,
      ipam: {
        type: "host-local",
        subnet: `${net.prefix}.0.0/16`,
        rangeStart: `${net.prefix}.${node.index}.${lo}`,
        rangeEnd: `${net.prefix}.${node.index}.${hi}`,
        gateway: this.gatewayOf(node, net),
        dataDir: this.ipamDir(node),
      },
      ...extra,
    };
  }

  /** The node's gateway address in a network (its bridge's address). */
  gatewayOf(node: FabricNode, net: Network): string {
    return `${net.prefix}.${node.index}.1`;
  }

  /** Runs one CNI command on a node, as kubelet would. */
  exec(
    node: FabricNode,
    command: string,
    conf: unknown,
    env: Record<string, string> = {},
  ): Promise<PluginRun> {
    return execPlugin(node.name, this.plugin(node), {
      CNI_COMMAND: command,
      CNI_PATH: `${this.binDirs[node.index - 1]}:/usr/lib/cni`,
      ...env,
    }, conf);
  }

  /** Creates a pod: netns plus ADD. Throws with the plugin's error when ADD fails. */
  async addPod(node: FabricNode, net: Network): Promise<Pod> {
    const n = this.#count++;
    const netns = await this.fabric.addPodNetns(node, `pod${n}`);
    const containerId = `ctr${n}-${net.name}`;
    const add = await this.exec(node, "ADD", this.config(node, net), {
      CNI_CONTAINERID: containerId,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
    });
    if (add.code !== 0) {
      throw new Error(`ADD of ${containerId} on ${node.name} failed: ${add.stdout} ${add.stderr}`);
    }
    const result = add.json as {
      ips: { address: string }[];
      interfaces: { name: string; mac: string }[];
    };
    const pod: Pod = {
      node,
      network: net,
      containerId,
      netns,
      ip: result.ips[0]!.address.split("/")[0]!,
      mac: result.interfaces[1]!.mac,
      hostVeth: result.interfaces[0]!.name,
      result: add.json!,
    };
    this.pods.push(pod);
    return pod;
  }

  /** Deletes a pod: DEL, then its netns (as the runtime does). */
  async delPod(pod: Pod): Promise<void> {
    const del = await this.exec(pod.node, "DEL", this.config(pod.node, pod.network), {
      CNI_CONTAINERID: pod.containerId,
      CNI_NETNS: pod.netns,
      CNI_IFNAME: "eth0",
    });
    if (del.code !== 0) throw new Error(`DEL of ${pod.containerId} failed: ${del.stdout}`);
    await this.fabric.exec(pod.node.name, ["ip", "netns", "del", pod.netns.split("/").at(-1)!]);
    this.pods.splice(this.pods.indexOf(pod), 1);
  }

  /** CHECK of a pod, as the runtime runs it (with the ADD result as prevResult). */
  check(pod: Pod): Promise<PluginRun> {
    return this.exec(pod.node, "CHECK", {
      ...this.config(pod.node, pod.network),
      prevResult: pod.result,
    }, {
      CNI_CONTAINERID: pod.containerId,
      CNI_NETNS: pod.netns,
      CNI_IFNAME: "eth0",
    });
  }

  /** Runs `bagpipe-cni resync` on a node, as an operator (or the daemon's post-start hook) would. */
  resync(node: FabricNode) {
    return this.fabric.exec(node.name, [
      this.plugin(node),
      "resync",
      "--state-dir",
      this.stateDir(node),
      "--log-file",
      `${node.workDir}/cni/plugin.log`,
    ]);
  }

  /** One ping from a pod; true when answered within a second. */
  async ping(from: Pod, to: string): Promise<boolean> {
    return (await this.fabric.exec(from.netns, ["ping", "-c", "1", "-W", "1", to])).code === 0;
  }

  /** Pings until answered or the deadline; returns the ms it took, or undefined on time-out. */
  async pingUntil(
    from: Pod,
    to: string,
    timeoutMs = 15000,
    since = performance.now(),
  ): Promise<number | undefined> {
    while (performance.now() - since < timeoutMs) {
      if (await this.ping(from, to)) return Math.round(performance.now() - since);
    }
    return undefined;
  }

  /** host-local leases held on a node (any network). */
  leases(node: FabricNode): string[] {
    return leasesIn(this.ipamDir(node));
  }
}
