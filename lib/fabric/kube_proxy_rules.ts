/**
 * kube-proxy's iptables mode, without kube-proxy: from a small description of Services and their
 * endpoints, the rules kube-proxy (pkg/proxy/iptables/proxier.go, 1.28+) writes on one node, and
 * how it writes them: its jump rules ensured one by one (`-C`, else `-I`), then one
 * `iptables-restore --noflush` of its own chains (declaring a chain flushes it, so applying again
 * replaces them). The same chain names (sha256 + base32 of the port name), comments, order and
 * masquerade mark (0x4000); kube-proxy runs with a cluster CIDR (the pod network, for its local
 * traffic detector) and `--iptables-localhost-nodeports=false` (so no route_localnet).
 * Not modelled: session affinity, LoadBalancer and external IPs, internalTrafficPolicy Local,
 * health-check node ports, topology hints.
 *
 * ```ts
 * const rules = await kubeProxyRules(services, { node: "n1", clusterCidr: "10.27.0.0/16" });
 * await applyKubeProxyRules((argv, stdin) => execInNetns("n1", argv, { stdin }), rules);
 * ```
 * @module
 */
import type { CommandResult } from "./run_command.ts";

/** One endpoint of a Service: a pod (or host) address and the node it runs on. */
export interface ServiceEndpoint {
  ip: string;
  node: string;
}

/** One port of a Service. */
export interface ServicePort {
  /** The port's name; kube-proxy's chain names hash "namespace/name:portName". */
  name?: string;
  port: number;
  targetPort: number;
  protocol: "tcp" | "udp";
  nodePort?: number;
}

/** A Service as kube-proxy sees it: its ClusterIP, ports, traffic policy and endpoints. */
export interface ServiceSpec {
  namespace?: string;
  name: string;
  clusterIP: string;
  ports: ServicePort[];
  /** For NodePorts: Cluster (any endpoint, source masqueraded) or Local (this node's only). */
  externalTrafficPolicy?: "Cluster" | "Local";
  endpoints: ServiceEndpoint[];
}

/** The node kube-proxy runs on. */
export interface ProxyNode {
  /** Compared with ServiceEndpoint.node to find local endpoints. */
  node: string;
  /** kube-proxy's --cluster-cidr: traffic from it is "local" (pods), the rest is masqueraded. */
  clusterCidr: string;
  /** --iptables-masquerade-bit (default 14: mark 0x4000). */
  masqueradeBit?: number;
}

/** A rule kube-proxy ensures in a built-in chain (EnsureChain + EnsureRule(Prepend)). */
export interface JumpRule {
  table: "filter" | "nat";
  /** The built-in chain that jumps (PREROUTING, OUTPUT, ...). */
  from: string;
  /** kube-proxy's chain it jumps to. */
  to: string;
  /** The rule's arguments after the chain name, as iptables -C / -I take them. */
  args: string[];
}

/** What applying kube-proxy's rules on a node takes. */
export interface KubeProxyRules {
  jumps: JumpRule[];
  /** The iptables-restore input (filter and nat tables). */
  restore: string;
}

const JUMPS: [JumpRule["table"], string, string, string, string[]][] = [
  // [table, kube-proxy chain, built-in chain, comment, extra args]: proxier.go's
  // iptablesJumpChains then iptablesKubeletJumpChains, in that order (each one prepended).
  [
    "filter",
    "KUBE-EXTERNAL-SERVICES",
    "INPUT",
    "kubernetes externally-visible service portals",
    ["-m", "conntrack", "--ctstate", "NEW"],
  ],
  [
    "filter",
    "KUBE-EXTERNAL-SERVICES",
    "FORWARD",
    "kubernetes externally-visible service portals",
    ["-m", "conntrack", "--ctstate", "NEW"],
  ],
  ["filter", "KUBE-NODEPORTS", "INPUT", "kubernetes health check service ports", []],
  [
    "filter",
    "KUBE-SERVICES",
    "FORWARD",
    "kubernetes service portals",
    ["-m", "conntrack", "--ctstate", "NEW"],
  ],
  [
    "filter",
    "KUBE-SERVICES",
    "OUTPUT",
    "kubernetes service portals",
    ["-m", "conntrack", "--ctstate", "NEW"],
  ],
  ["filter", "KUBE-FORWARD", "FORWARD", "kubernetes forwarding rules", []],
  [
    "filter",
    "KUBE-PROXY-FIREWALL",
    "INPUT",
    "kubernetes load balancer firewall",
    ["-m", "conntrack", "--ctstate", "NEW"],
  ],
  [
    "filter",
    "KUBE-PROXY-FIREWALL",
    "OUTPUT",
    "kubernetes load balancer firewall",
    ["-m", "conntrack", "--ctstate", "NEW"],
  ],
  [
    "filter",
    "KUBE-PROXY-FIREWALL",
    "FORWARD",
    "kubernetes load balancer firewall",
    ["-m", "conntrack", "--ctstate", "NEW"],
  ],
  ["nat", "KUBE-SERVICES", "OUTPUT", "kubernetes service portals", []],
  ["nat", "KUBE-SERVICES", "PREROUTING", "kubernetes service portals", []],
  ["nat", "KUBE-POSTROUTING", "POSTROUTING", "kubernetes postrouting rules", []],
  ["filter", "KUBE-FIREWALL", "INPUT", "", []],
  ["filter", "KUBE-FIREWALL", "OUTPUT", "", []],
];

/** kube-proxy's jump rules from the built-in chains, in the order it ensures them. */
export function kubeProxyJumps(): JumpRule[] {
  return JUMPS.map(([table, to, from, comment, extra]) => ({
    table,
    from,
    to,
    args: [...extra, ...(comment ? ["-m", "comment", "--comment", comment] : []), "-j", to],
  }));
}

/** "namespace/name:port" (no ":port" for an unnamed port), as kube-proxy's ServicePortName prints. */
export function servicePortName(service: ServiceSpec, port: ServicePort): string {
  return `${service.namespace ?? "default"}/${service.name}${port.name ? `:${port.name}` : ""}`;
}

/** The 16 characters of base32(sha256(text)) kube-proxy puts after a chain prefix. */
export async function chainHash(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  return _base32(digest).slice(0, 16);
}

/**
 * The rules kube-proxy writes on this node for these Services.
 * @throws Error naming the Service when a port or address is not what kube-proxy accepts.
 */
export async function kubeProxyRules(
  services: ServiceSpec[],
  node: ProxyNode,
): Promise<KubeProxyRules> {
  const bit = node.masqueradeBit ?? 14;
  const mark = `0x${(1 << bit).toString(16).padStart(4, "0")}`;
  const filterChains = [
    "KUBE-SERVICES",
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-FORWARD",
    "KUBE-NODEPORTS",
    "KUBE-PROXY-FIREWALL",
  ];
  const natChains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"];
  const filter: string[] = [];
  const nat: string[] = [
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
  ];
  const sorted = [...services].sort((a, b) =>
    `${a.namespace ?? "default"}/${a.name}`.localeCompare(`${b.namespace ?? "default"}/${b.name}`)
  );
  for (const service of sorted) {
    _validate(service);
    for (const port of service.ports) {
      await _servicePort(service, port, node, { filter, nat, natChains });
    }
  }
  nat.push(
    `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS`,
  );
  filter.push(
    "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
  const restore = [
    "*filter",
    ...filterChains.map((c) => `:${c} - [0:0]`),
    ...filter,
    "COMMIT",
    "*nat",
    ...natChains.map((c) => `:${c} - [0:0]`),
    ...nat,
    "COMMIT",
    "",
  ].join("\n");
  return { jumps: kubeProxyJumps(), restore };
}

/** Runs argv (iptables commands) in the node's network namespace, with stdin when given. */
export type NodeIptables = (argv: string[], stdin?: string) => Promise<CommandResult>;

/**
 * Applies the rules as kube-proxy does: each jump's chain created when missing and the jump
 * inserted at the top unless `iptables -C` finds it, then `iptables-restore --noflush`.
 * @throws Error with the failing command and iptables' message.
 */
export async function applyKubeProxyRules(run: NodeIptables, rules: KubeProxyRules): Promise<void> {
  const checked = async (argv: string[], stdin?: string) => {
    const out = await run(argv, stdin);
    if (out.code !== 0) {
      throw new Error(`kube-proxy rules: ${argv.join(" ")} failed: ${out.stderr.trim()}`);
    }
  };
  for (const jump of rules.jumps) {
    const chain = await run(["iptables", "-w", "-t", jump.table, "-S", jump.to]);
    if (chain.code !== 0) await checked(["iptables", "-w", "-t", jump.table, "-N", jump.to]);
    const exists = await run(["iptables", "-w", "-t", jump.table, "-C", jump.from, ...jump.args]);
    if (exists.code !== 0) {
      await checked(["iptables", "-w", "-t", jump.table, "-I", jump.from, ...jump.args]);
    }
  }
  await checked(["iptables-restore", "--noflush", "--counters"], rules.restore);
}

interface Output {
  filter: string[];
  nat: string[];
  natChains: string[];
}

async function _servicePort(
  service: ServiceSpec,
  port: ServicePort,
  node: ProxyNode,
  out: Output,
): Promise<void> {
  const name = servicePortName(service, port);
  const proto = port.protocol;
  const hash = await chainHash(name + proto);
  const svcChain = `KUBE-SVC-${hash}`;
  const localChain = `KUBE-SVL-${hash}`;
  const extChain = `KUBE-EXT-${hash}`;
  const external = port.nodePort !== undefined;
  const externalLocal = external && service.externalTrafficPolicy === "Local";
  const all = service.endpoints;
  const local = all.filter((e) => e.node === node.node);
  const hasEndpoints = all.length > 0;
  const hasExternalEndpoints = hasEndpoints && (!externalLocal || local.length > 0);
  const match = `-m ${proto} -p ${proto}`;
  const clusterMatch = `${match} -d ${service.clusterIP} --dport ${port.port}`;

  if (hasEndpoints) {
    out.nat.push(
      `-A KUBE-SERVICES -m comment --comment "${name} cluster IP" ${clusterMatch} -j ${svcChain}`,
    );
  } else {
    out.filter.push(
      `-A KUBE-SERVICES -m comment --comment "${name} has no endpoints" ${clusterMatch} -j REJECT`,
    );
  }
  if (external) {
    if (hasEndpoints) {
      out.nat.push(
        `-A KUBE-NODEPORTS -m comment --comment ${name} ${match} --dport ${port.nodePort} -j ${extChain}`,
      );
    }
    if (!hasExternalEndpoints) {
      const why = hasEndpoints ? "has no local endpoints" : "has no endpoints";
      out.filter.push(
        `-A KUBE-EXTERNAL-SERVICES -m comment --comment "${name} ${why}" -m addrtype --dst-type LOCAL ${match} --dport ${port.nodePort} -j ${
          hasEndpoints ? "DROP" : "REJECT"
        }`,
      );
    }
  }
  if (!hasEndpoints) return;

  // Internal traffic: off-cluster sources reaching the ClusterIP are masqueraded.
  out.nat.push(
    `-A ${svcChain} -m comment --comment "${name} cluster IP" ${clusterMatch} ! -s ${node.clusterCidr} -j KUBE-MARK-MASQ`,
  );
  if (external) {
    out.natChains.push(extChain);
    if (!externalLocal) {
      out.nat.push(
        `-A ${extChain} -m comment --comment "masquerade traffic for ${name} external destinations" -j KUBE-MARK-MASQ`,
      );
    } else {
      out.nat.push(
        `-A ${extChain} -m comment --comment "pod traffic for ${name} external destinations" -s ${node.clusterCidr} -j ${svcChain}`,
        `-A ${extChain} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
        `-A ${extChain} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${svcChain}`,
      );
    }
    if (hasExternalEndpoints) {
      out.nat.push(`-A ${extChain} -j ${externalLocal ? localChain : svcChain}`);
    }
  }
  const endpointChains = new Map<ServiceEndpoint, string>();
  for (const ep of all) {
    endpointChains.set(
      ep,
      `KUBE-SEP-${await chainHash(`${name}${proto}${ep.ip}:${port.targetPort}`)}`,
    );
  }
  out.natChains.push(svcChain);
  _balance(out.nat, svcChain, name, port, all, endpointChains);
  if (externalLocal && local.length > 0) {
    out.natChains.push(localChain);
    _balance(out.nat, localChain, name, port, local, endpointChains);
  }
  for (const ep of all) {
    const chain = endpointChains.get(ep)!;
    out.natChains.push(chain);
    out.nat.push(
      // Hairpin: a pod reaching itself through the Service is masqueraded, or its reply would
      // skip the un-DNAT.
      `-A ${chain} -m comment --comment ${name} -s ${ep.ip} -j KUBE-MARK-MASQ`,
      `-A ${chain} -m comment --comment ${name} ${match} -j DNAT --to-destination ${ep.ip}:${port.targetPort}`,
    );
  }
}

/** Random choice among endpoints: rule i matches with probability 1/(n-i), the last always. */
function _balance(
  nat: string[],
  chain: string,
  name: string,
  port: ServicePort,
  endpoints: ServiceEndpoint[],
  chains: Map<ServiceEndpoint, string>,
): void {
  endpoints.forEach((ep, i) => {
    const left = endpoints.length - i;
    const odds = left > 1
      ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}`
      : "";
    nat.push(
      `-A ${chain} -m comment --comment "${name} -> ${ep.ip}:${port.targetPort}"${odds} -j ${
        chains.get(ep)
      }`,
    );
  });
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function _validate(service: ServiceSpec): void {
  const fail = (why: string) => new Error(`Service ${service.name}: ${why}`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(service.name)) throw fail("name is not a DNS label");
  if (!IPV4.test(service.clusterIP)) throw fail(`clusterIP ${service.clusterIP} is not IPv4`);
  for (const port of service.ports) {
    for (const p of [port.port, port.targetPort, port.nodePort ?? 1]) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw fail(`port ${p} is out of range`);
    }
    if (port.protocol !== "tcp" && port.protocol !== "udp") {
      throw fail(`protocol ${port.protocol} is not tcp or udp`);
    }
  }
  for (const ep of service.endpoints) {
    if (!IPV4.test(ep.ip)) throw fail(`endpoint ${ep.ip} is not IPv4`);
  }
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (Go's base32.StdEncoding), padding left out. */
function _base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}
