import { CniError, ErrorCode } from "../cni/errors.ts";
import { isIpv6 } from "../cni/result.ts";
import type { Logger } from "../log.ts";
import { hairpinOn, masterOf, plugIntoBridge } from "../net/bridge_port.ts";
import { ensureMasquerade, masqueradeProblems, subnetOf } from "../net/masquerade.ts";
import { bridgeNameFor, podMacFor, vxlanNameFor } from "../net/names.ts";
import {
  type BridgeLayout,
  bridgeLooksReady,
  bridgeProblems,
  createBridge,
  type Vtep,
} from "../net/network_bridge.ts";
import {
  brNetfilterLoaded,
  enableRouting,
  ensureBrNetfilter,
  ipForwardOn,
} from "../net/node_sysctls.ts";
import type { AttachmentRecord } from "../state/attachments.ts";
import { loadNetwork, type NetworkSpec, saveNetwork } from "../state/networks.ts";
import { withStateLock } from "./daemon_identity.ts";

/**
 * The network a pod's record belongs to, as the node must have it: gateway from IPAM (the node's
 * own, see `install --pod-cidr`), prefix and subnet from the pod's address.
 * @throws CniError 7 when the layout cannot be built from it (no forced VNI, isGateway without an
 *   IPv4 gateway from IPAM).
 */
export function networkSpecOf(record: AttachmentRecord): NetworkSpec {
  const v4 = record.ips.find((ip) => !isIpv6(ip));
  if (record.vni === undefined) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${record.network}" has no vni: the plugin's VXLAN device needs the forced VNI`,
    );
  }
  const gateway = record.gateway && !isIpv6(record.gateway) ? record.gateway : undefined;
  if (record.isGateway && (!gateway || !v4)) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `isGateway: IPAM returned no IPv4 ${
        v4 ? "gateway" : "address"
      } for network "${record.network}"`,
      "the node's gateway address goes on the bridge: give host-local's range a `gateway` " +
        "(install --pod-cidr writes the first address of the node's pod CIDR)",
    );
  }
  const spec: NetworkSpec = {
    instanceId: record.instanceId,
    bagpipeUrl: record.bagpipeUrl,
    vni: record.vni,
    mtu: record.mtu ?? 1450,
    importRt: record.importRt,
    exportRt: record.exportRt,
  };
  if (record.readvertise) spec.readvertise = record.readvertise;
  if (gateway) spec.mac = podMacFor(gateway);
  if (record.isGateway && gateway && v4) spec.gatewayCidr = `${gateway}/${v4.split("/")[1]}`;
  if (record.ipMasq !== false && v4) {
    spec.masquerade = { subnet: subnetOf(v4), nonMasqueradeCidrs: record.nonMasqueradeCidrs ?? [] };
  }
  return spec;
}

/** The devices of a network spec. */
export function layoutOf(spec: NetworkSpec): BridgeLayout {
  return {
    bridge: bridgeNameFor(spec.instanceId),
    vxlan: vxlanNameFor(spec.instanceId),
    vni: spec.vni,
    mtu: spec.mtu,
    mac: spec.mac,
    gatewayCidr: spec.gatewayCidr,
  };
}

/** The node side of a network: its devices, kernel settings and masquerade. */
export interface NodeNetwork {
  /**
   * Makes what the network lacks on this node. The common case reads /sys and /proc only and
   * spawns nothing; `force` skips that look (STATUS repairs what it found broken).
   * @returns true when it had to make or repair something.
   */
  ensure(spec: NetworkSpec, vtep: () => Promise<Vtep>, force?: boolean): Promise<boolean>;
  /** Plugs a pod's host veth into the network's bridge. */
  plug(hostVeth: string, spec: NetworkSpec): Promise<void>;
  /** Each missing piece of the network on this node, as a phrase (empty when complete). */
  problems(spec: NetworkSpec, vtep?: Vtep): Promise<string[]>;
  /** What is wrong with a pod's port on the network's bridge (empty when it is right). */
  portProblems(hostVeth: string, spec: NetworkSpec): string[];
}

/** The network as this node's kernel has it (the plugin runs in the node's netns). */
export class KernelNodeNetwork implements NodeNetwork {
  constructor(readonly stateDir: string, readonly log: Logger) {}

  #looksReady(spec: NetworkSpec): boolean {
    return bridgeLooksReady(layoutOf(spec)) &&
      (!spec.gatewayCidr || (brNetfilterLoaded() && ipForwardOn())) &&
      loadNetwork(this.stateDir, spec.instanceId) !== undefined;
  }

  async ensure(spec: NetworkSpec, vtep: () => Promise<Vtep>, force = false): Promise<boolean> {
    if (!force && this.#looksReady(spec)) return false;
    // Concurrent ADDs of one network's first pods: one makes the devices, the others wait here
    // and find them made.
    return await withStateLock(this.stateDir, `network-${spec.instanceId}`, async () => {
      if (!force && this.#looksReady(spec)) return false;
      const layout = layoutOf(spec);
      // Services need br_netfilter only where pods are routed by the node (isGateway).
      if (spec.gatewayCidr) await ensureBrNetfilter();
      const made = await createBridge(layout, await vtep());
      if (spec.gatewayCidr) enableRouting(layout.bridge);
      if (spec.masquerade) {
        await ensureMasquerade({ instanceId: spec.instanceId, ...spec.masquerade });
      }
      // The gateway endpoint stays attached unless the gateway itself changed.
      const previous = loadNetwork(this.stateDir, spec.instanceId);
      const same = previous?.spec.gatewayCidr === spec.gatewayCidr &&
        previous?.spec.mac === spec.mac;
      saveNetwork(this.stateDir, {
        spec,
        ...(same && previous?.gatewayIdentity ? { gatewayIdentity: previous.gatewayIdentity } : {}),
      });
      this.log.info("network infrastructure ensured", {
        instance: spec.instanceId,
        bridge: layout.bridge,
        vxlan: layout.vxlan,
        gateway: spec.gatewayCidr,
        masquerade: spec.masquerade?.subnet,
        made,
      });
      return true;
    });
  }

  portProblems(hostVeth: string, spec: NetworkSpec): string[] {
    return portProblems(hostVeth, spec);
  }

  plug(hostVeth: string, spec: NetworkSpec): Promise<void> {
    return plugIntoBridge(hostVeth, bridgeNameFor(spec.instanceId));
  }

  async problems(spec: NetworkSpec, vtep?: Vtep): Promise<string[]> {
    const problems = await bridgeProblems(layoutOf(spec), vtep);
    if (spec.gatewayCidr) {
      if (!brNetfilterLoaded()) {
        problems.push("kernel module br_netfilter is not loaded (Services would fail)");
      }
      if (!ipForwardOn()) problems.push("net.ipv4.ip_forward is 0 (the node routes for its pods)");
    }
    if (spec.masquerade) {
      problems.push(
        ...await masqueradeProblems({ instanceId: spec.instanceId, ...spec.masquerade }),
      );
    }
    return problems;
  }
}

/** What is wrong with a pod's port on its network's bridge (empty when plugged in hairpin mode). */
export function portProblems(hostVeth: string, spec: NetworkSpec): string[] {
  const bridge = bridgeNameFor(spec.instanceId);
  if (masterOf(hostVeth) !== bridge) {
    return [`host veth "${hostVeth}" is not plugged into "${bridge}"`];
  }
  if (!hairpinOn(hostVeth)) {
    return [
      `host veth "${hostVeth}" is not in hairpin mode (a pod could not reach its own Service)`,
    ];
  }
  return [];
}
