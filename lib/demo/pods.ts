/**
 * Pods as kubelet makes them on a node: a sandbox netns, then the node's network list run
 * through the conflist runner (bagpipe, then portmap) with kubelet's CNI_ARGS and runtime config.
 */
import type { Fabric } from "../fabric/fabric.ts";
import { deleteNetns } from "../fabric/netns.ts";
import {
  type AttachmentArgs,
  type CniResult,
  ConflistRunner,
  type PluginStep,
} from "./conflist_runner.ts";
import { execInNode } from "./node_exec.ts";
import type { NodeCni } from "./node_cni.ts";

/** kubelet's runtime config for one port mapping (the portMappings capability). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** A pod the demo created. */
export interface DemoPod {
  name: string;
  cni: NodeCni;
  netns: string;
  args: AttachmentArgs;
  result: CniResult;
  steps: PluginStep[];
  ip: string;
  mac: string;
  hostVeth: string;
  portMappings: PortMapping[];
}

/** The conflist runner of a node, executing plugins inside its netns. */
export function nodeRunner(cni: NodeCni): ConflistRunner {
  return new ConflistRunner(cni.list, cni.cniPath, execInNode(cni.node.name));
}

/**
 * Creates pod `name` on the node: its netns, then ADD through the chain.
 * @throws the chain's error (the runner already ran DEL); the netns is deleted with the fabric.
 */
export async function createPod(
  fabric: Fabric,
  cni: NodeCni,
  name: string,
  portMappings: PortMapping[] = [],
): Promise<DemoPod> {
  const netns = await fabric.addPodNetns(cni.node, name);
  const containerId = `${name}-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const args: AttachmentArgs = {
    containerId,
    netns,
    ifname: "eth0",
    cniArgs: {
      K8S_POD_NAMESPACE: "demo",
      K8S_POD_NAME: name,
      K8S_POD_INFRA_CONTAINER_ID: containerId,
    },
    capabilityArgs: { portMappings },
  };
  const { result, steps } = await nodeRunner(cni).add(args);
  const ips = result.ips as { address: string; interface?: number }[] | undefined;
  const interfaces = result.interfaces as { name: string; mac?: string; sandbox?: string }[];
  const ip = ips?.[0];
  const podIf = ip?.interface === undefined ? undefined : interfaces?.[ip.interface];
  const hostIf = interfaces?.find((i) => !i.sandbox);
  if (!ip || !podIf || !hostIf) {
    throw new Error(
      `ADD of pod ${name} on ${cni.node.name} returned a result without address or interfaces: ${
        JSON.stringify(result)
      }`,
    );
  }
  return {
    name,
    cni,
    netns,
    args,
    result,
    steps,
    ip: ip.address.split("/")[0]!,
    mac: podIf.mac ?? "?",
    hostVeth: hostIf.name,
    portMappings,
  };
}

/**
 * Deletes a pod as kubelet does: DEL through the chain in reverse with the ADD result, then the
 * sandbox netns.
 */
export async function deletePod(pod: DemoPod): Promise<void> {
  await nodeRunner(pod.cni).del(pod.args, pod.result);
  await deleteNetns(pod.netns.slice(pod.netns.lastIndexOf("/") + 1));
}
