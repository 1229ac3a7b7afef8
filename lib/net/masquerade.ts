import { CniError, ErrorCode } from "../cni/errors.ts";
import { lastLine, run } from "./run.ts";

/**
 * ipMasq: traffic from a network's pods to anywhere outside the network's subnet (and outside the
 * configured non-masquerade CIDRs) leaves the node with the node's address, as the bridge plugin's
 * ipMasq (containernetworking/plugins pkg/ip/ipmasq_linux.go) and flannel do. One nat chain per
 * network in the node's netns, reached from POSTROUTING for sources in the subnet:
 *
 *   -A POSTROUTING -s <subnet> -m comment --comment "bagpipe-cni <id> masquerade" -j BPCNI-MASQ-<id>
 *   -A BPCNI-MASQ-<id> -d <subnet> -j RETURN           pod ↔ pod, pod → Service backends
 *   -A BPCNI-MASQ-<id> -d <each nonMasqueradeCidr> -j RETURN
 *   -A BPCNI-MASQ-<id> -d 224.0.0.0/4 -j RETURN        multicast
 *   -A BPCNI-MASQ-<id> -j MASQUERADE
 *
 * kube-proxy (iptables mode) prepends its KUBE-POSTROUTING jump to POSTROUTING and masquerades the
 * packets it marked (0x4000: NodePort and hairpin traffic) there first; MASQUERADE ends the nat
 * traversal, so this chain only sees the rest. Service traffic was DNATed to a backend pod in
 * PREROUTING, so its destination is in the subnet and it RETURNs unchanged.
 */

/** The nat chain of a network (iptables chain names: at most 28 characters). */
export function masqueradeChainFor(instanceId: string): string {
  return `BPCNI-MASQ-${instanceId}`;
}

/** What a network masquerades: from its subnet, except to these destinations. */
export interface MasqueradeRule {
  instanceId: string;
  /** The network's subnet, "a.b.c.d/len" with the host bits zero. */
  subnet: string;
  /** Destinations left alone besides the subnet: e.g. the cluster's Service CIDR, other pod networks. */
  nonMasqueradeCidrs: string[];
}

function chainRules(rule: MasqueradeRule): string[] {
  const chain = masqueradeChainFor(rule.instanceId);
  return [
    ...[rule.subnet, ...rule.nonMasqueradeCidrs, "224.0.0.0/4"].map((cidr) =>
      `-A ${chain} -d ${cidr} -j RETURN`
    ),
    `-A ${chain} -j MASQUERADE`,
  ];
}

function jumpRule(rule: MasqueradeRule): string {
  return `-A POSTROUTING -s ${rule.subnet} -m comment --comment "bagpipe-cni ${rule.instanceId} masquerade" -j ${
    masqueradeChainFor(rule.instanceId)
  }`;
}

async function natRules(chain: string): Promise<string[] | undefined> {
  const out = await run("iptables", ["-w", "5", "-t", "nat", "-S", chain]);
  if (out.code !== 0) return undefined; // no such chain
  return out.stdout.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("-A "));
}

/**
 * Makes the network's chain hold exactly its rules and POSTROUTING jump to it, idempotently: one
 * `iptables -S` to look, one `iptables-restore --noflush` (which empties and refills only our
 * chain) to write. Run when the network's bridge is made, never per pod.
 * @throws CniError 100 when iptables fails.
 */
export async function ensureMasquerade(rule: MasqueradeRule): Promise<void> {
  const chain = masqueradeChainFor(rule.instanceId);
  const postrouting = await natRules("POSTROUTING");
  if (postrouting === undefined) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to read the nat table's POSTROUTING chain for the masquerade of "${rule.instanceId}"`,
      "is iptables installed, and the nat table available?",
    );
  }
  const jump = jumpRule(rule);
  const lines = [
    "*nat",
    `:${chain} - [0:0]`,
    ...chainRules(rule),
    ...(postrouting.includes(jump) ? [] : [jump]),
    "COMMIT",
  ];
  const out = await run("iptables-restore", ["-w", "5", "--noflush"], {
    stdin: lines.join("\n") + "\n",
  });
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to write the masquerade rules of "${rule.instanceId}" (chain ${chain}): ${
        lastLine(out.stderr)
      }`,
    );
  }
}

/** What is missing from the network's masquerade (empty when in place); spawns two iptables. */
export async function masqueradeProblems(rule: MasqueradeRule): Promise<string[]> {
  const chain = masqueradeChainFor(rule.instanceId);
  const [postrouting, rules] = await Promise.all([natRules("POSTROUTING"), natRules(chain)]);
  const problems: string[] = [];
  if (!postrouting?.includes(jumpRule(rule))) {
    problems.push(`nat POSTROUTING does not send ${rule.subnet} to ${chain} (ipMasq)`);
  }
  if (rules === undefined) {
    problems.push(`nat chain ${chain} is missing (ipMasq)`);
  } else if (rules.join("\n") !== chainRules(rule).join("\n")) {
    problems.push(`nat chain ${chain} does not hold the masquerade rules of ${rule.subnet}`);
  }
  return problems;
}

/** The subnet of an address in CIDR form: "10.27.1.5/16" → "10.27.0.0/16" (IPv4). */
export function subnetOf(cidr: string): string {
  const [address, len] = cidr.split("/");
  const prefix = Number(len ?? "32");
  const n = address!.split(".").reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 0xff).join(".")}/${prefix}`;
}
