/**
 * Evidence that portmap, second in the chain, did its part: the DNAT rule for a pod's host port
 * in its node's nat table (portmap works inside the node netns, where the runtime runs it).
 */
import { execInNetns } from "../fabric/netns.ts";
import type { DemoPod, PortMapping } from "./pods.ts";

/** The node's DNAT rules as `iptables-save -t nat` prints them. */
export async function dnatRules(nodeNetns: string): Promise<string[]> {
  const out = await execInNetns(nodeNetns, ["iptables-save", "-t", "nat"]);
  if (out.code !== 0) {
    throw new Error(`iptables-save -t nat in ${nodeNetns} failed: ${out.stderr.trim()}`);
  }
  return out.stdout.split("\n").filter((line) => line.includes("-j DNAT"));
}

/** The rule that sends the host port to the pod, if present among rules. */
export function ruleFor(rules: string[], pod: DemoPod, mapping: PortMapping): string | undefined {
  const port = new RegExp(`--dport ${mapping.hostPort}\\b`);
  const target = `--to-destination ${pod.ip}:${mapping.containerPort}`;
  return rules.find((r) =>
    port.test(r) && r.includes(target) && r.includes(`-p ${mapping.protocol}`)
  );
}
