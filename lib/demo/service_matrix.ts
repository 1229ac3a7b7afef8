/**
 * The demo's Service matrix: what a Kubernetes cluster on this network gives its pods and nodes
 * beyond pod ↔ pod. Each node gets kube-proxy's iptables-mode rules for two Services (one backend
 * pod on each node: TCP 80 and DNS-like UDP 53, with a NodePort); every pod, every node and a
 * client off the cluster then ask each Service's ClusterIP, each NodePort and each hostPort
 * (portmap's), and each cell says whether the right backend answered, or at which hop it was
 * lost.
 */
import type { Fabric, FabricNode } from "../fabric/fabric.ts";
import { type FlowCheck, type FlowOutcome, runFlowChecks } from "../fabric/flow_checks.ts";
import {
  applyKubeProxyRules,
  kubeProxyRules,
  type ServiceSpec,
} from "../fabric/kube_proxy_rules.ts";
import { execInNetns, inNetns } from "../fabric/netns.ts";
import { runChecked } from "../fabric/run_command.ts";
import { type ProbeServer, startProbeServer } from "../fabric/probe.ts";
import { addUnderlayHost, type UnderlayHost } from "../fabric/underlay_host.ts";
import type { DemoPod } from "./pods.ts";

/** The off-cluster client's last octet on DC1's underlay segment (above every node's). */
const CLIENT_HOST = 250;
/** What every backend pod serves. */
const HTTP = 80;
const DNS = 53;
const NODE_PORT_BASE = 30080;

/** A column of the matrix: one destination, reached over one protocol. */
export interface ServiceTarget {
  label: string;
  protocol: "tcp" | "udp";
  host: string;
  port: number;
  server: ProbeServer;
  /** The backend pod's address (the server's). */
  serverIp: string;
  /** Node netns the request crosses besides the client's own. */
  nodes: string[];
  /** Not asked from the off-cluster client (ClusterIPs are not routed outside). */
  clusterOnly: boolean;
}

/** A row: a pod, a node or the off-cluster client. */
export interface ServiceClient {
  label: string;
  netns: string;
  /** Its node's netns (for a pod or node), inspected on failure. */
  node?: string;
  offCluster: boolean;
}

/** The running set-up and the matrix it measured. */
export interface ServiceMatrix {
  services: ServiceSpec[];
  clients: ServiceClient[];
  targets: ServiceTarget[];
  outcomes: FlowOutcome[];
}

/** What the Service matrix started (servers, the client host), stopped by close(). */
export interface ServiceLab {
  readonly client: UnderlayHost;
  readonly servers: ProbeServer[];
  close(): Promise<string[]>;
}

/**
 * Starts a server in every pod, the off-cluster client (also the nodes' default router), and
 * kube-proxy's rules on every node for one Service per node whose backend is that node's first
 * pod (portmap publishes it on the node too); then runs the matrix.
 * @throws when a server or the rules cannot be set up; what was started is stopped first.
 */
export async function runServiceMatrix(
  fabric: Fabric,
  pods: DemoPod[],
  clusterCidr: string,
): Promise<{ lab: ServiceLab; matrix: ServiceMatrix }> {
  const servers: ProbeServer[] = [];
  const dc1 = fabric.dcs[0]!;
  const clientIp = dc1.prefix.replace(/\.0\/24$/, `.${CLIENT_HOST}`);
  const client = await addUnderlayHost(fabric, "client", clientIp);
  const lab: ServiceLab = {
    client,
    servers,
    async close() {
      const problems: string[] = [];
      for (const s of servers) await s.stop().catch((e) => problems.push(String(e)));
      await client.remove().catch((e) => problems.push(String(e)));
      return problems;
    },
  };
  try {
    if (dc1.routerIp) {
      // Two DCs: the client is on DC1's segment and reaches DC2's nodes through the router.
      await runChecked(
        inNetns(client.netns, ["ip", "route", "add", "default", "via", dc1.routerIp]),
      );
    }
    for (const pod of pods) {
      servers.push(
        await startProbeServer({
          netns: _name(pod.netns),
          name: pod.name,
          tcp: [HTTP],
          udp: [DNS],
          logFile: `${fabric.workDir}/probe-${pod.name}.log`,
        }),
      );
    }
    const backends = fabric.nodes.map((node) => pods.find((p) => p.cni.node === node)!);
    const services: ServiceSpec[] = backends.map((pod, i) => ({
      name: `svc-${_short(pod.cni.node.name)}`,
      clusterIP: `10.96.0.${11 + i}`,
      ports: [
        {
          name: "http",
          port: HTTP,
          targetPort: HTTP,
          protocol: "tcp",
          nodePort: NODE_PORT_BASE + i,
        },
        { name: "dns", port: DNS, targetPort: DNS, protocol: "udp" },
      ],
      endpoints: [{ ip: pod.ip, node: pod.cni.node.name }],
    }));
    for (const node of fabric.nodes) {
      // A node's default route, as every real node has: ClusterIPs are routed by it until
      // kube-proxy's DNAT, and egress leaves by it. Two-DC nodes already have theirs (the router).
      if (!fabric.dcs[node.dc - 1]!.routerIp) {
        await runChecked(
          inNetns(node.name, ["ip", "route", "replace", "default", "via", clientIp]),
        );
      }
      const rules = await kubeProxyRules(services, { node: node.name, clusterCidr });
      await applyKubeProxyRules((argv, stdin) => execInNetns(node.name, argv, { stdin }), rules);
    }
    const serverOf = (pod: DemoPod) => servers.find((s) => s.name === pod.name)!;
    const targets: ServiceTarget[] = [];
    services.forEach((svc, i) => {
      const backend = backends[i]!;
      const node = backend.cni.node.name;
      for (const port of svc.ports) {
        targets.push({
          label: `${svc.name} ${port.protocol}`,
          protocol: port.protocol,
          host: svc.clusterIP,
          port: port.port,
          server: serverOf(backend),
          serverIp: backend.ip,
          nodes: [node],
          clusterOnly: true,
        });
      }
    });
    // NodePorts through the node that does NOT host the backend (kube-proxy forwards them on),
    // and hostPorts on the backend's own node.
    services.forEach((svc, i) => {
      const entry: FabricNode = fabric.nodes[(i + 1) % fabric.nodes.length]!;
      const backend = backends[i]!;
      targets.push({
        label: `NodePort ${_short(entry.name)}:${svc.ports[0]!.nodePort}`,
        protocol: "tcp",
        host: entry.underlayIp,
        port: svc.ports[0]!.nodePort!,
        server: serverOf(backend),
        serverIp: backend.ip,
        nodes: [entry.name, backend.cni.node.name],
        clusterOnly: false,
      });
    });
    for (const pod of pods) {
      for (const m of pod.portMappings) {
        targets.push({
          label: `hostPort ${_short(pod.cni.node.name)}:${m.hostPort}`,
          protocol: m.protocol,
          host: pod.cni.node.underlayIp,
          port: m.hostPort,
          server: serverOf(pod),
          serverIp: pod.ip,
          nodes: [pod.cni.node.name],
          clusterOnly: false,
        });
      }
    }
    const clients: ServiceClient[] = [
      ...pods.map((p) => ({
        label: p.name,
        netns: _name(p.netns),
        node: p.cni.node.name,
        offCluster: false,
      })),
      ...fabric.nodes.map((n) => ({
        label: _short(n.name),
        netns: n.name,
        node: n.name,
        offCluster: false,
      })),
      { label: "client", netns: client.netns, offCluster: true },
    ];
    const checks: FlowCheck[] = [];
    for (const c of clients) {
      for (const t of targets) {
        if (c.offCluster && t.clusterOnly) continue;
        checks.push({
          group: "service matrix",
          name: `${c.label} → ${t.label}`,
          from: c.netns,
          protocol: t.protocol,
          host: t.host,
          port: t.port,
          server: t.server,
          serverIp: t.serverIp,
          nodes: [...new Set([...(c.node ? [c.node] : []), ...t.nodes])],
        });
      }
    }
    const outcomes = await runFlowChecks(checks, { deadlineMs: 8_000, attemptMs: 2_000 });
    return { lab, matrix: { services, clients, targets, outcomes } };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

/**
 * The matrix as a table: rows ask, columns answer; "ok" (the right backend answered), "FAIL" or
 * "-" (not asked). No times: starting the client costs more than the request on a loaded machine.
 */
export function formatServiceMatrix(m: ServiceMatrix): string[] {
  const first = Math.max("from \\ to".length, ...m.clients.map((c) => c.label.length));
  const widths = m.targets.map((t) => Math.max(t.label.length, 9));
  const lines = [
    ["from \\ to".padEnd(first), ...m.targets.map((t, i) => t.label.padStart(widths[i]!))].join(
      "  ",
    ),
  ];
  for (const c of m.clients) {
    const cells = m.targets.map((t, i) => {
      const o = m.outcomes.find((x) => x.check.name === `${c.label} → ${t.label}`);
      const text = !o ? "-" : o.ok ? "ok" : "FAIL";
      return text.padStart(widths[i]!);
    });
    lines.push([c.label.padEnd(first), ...cells].join("  "));
  }
  for (const o of m.outcomes.filter((x) => !x.ok)) {
    lines.push(`FAIL ${o.check.name}: ${o.problem}; hop: ${o.diagnosis?.hop ?? "?"}`);
  }
  return lines;
}

function _name(netnsPath: string): string {
  return netnsPath.slice(netnsPath.lastIndexOf("/") + 1);
}

function _short(netns: string): string {
  return netns.slice(netns.lastIndexOf("-") + 1);
}
