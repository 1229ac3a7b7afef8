/**
 * The Kubernetes network model (issue #16) on the real fabric, with the plugin as a new user
 * installs it: stock bagpipe-bgp on three nodes and a GoBGP reflector, `bagpipe-cni install
 * --pod-cidr` of the SHIPPED conflist (config/10-bagpipe.conflist; only the node's range, and
 * state/log/lease paths under the node's own directory, differ), pods added through the chain
 * (bagpipe → portmap) as kubelet runs it, kube-proxy's iptables-mode chains written in every node
 * from one Service description, and two hosts on the underlay that are no nodes: `cp`, a
 * control-plane machine running the API server and no pod, and `ext`, a client off the cluster
 * that is also the nodes' default router and holds an address "outside" (198.51.100.10).
 * Node n3 has net.bridge.bridge-nf-call-iptables forced to 0 before its first ADD: the plugin
 * must set it back (the Service checks from n3 then pass) or refuse ADD naming it.
 *
 * Every check is a real request (TCP or UDP) to a real server that reports the source address it
 * saw, retried within bounds; a failure names the hop (route, ARP, DNAT, masquerade, conntrack).
 * All checks run, then the test fails listing every failed one.
 */
import assert from "node:assert/strict";
import { startFabric } from "../lib/fabric/fabric.ts";
import type { FabricNode } from "../lib/fabric/fabric.ts";
import { type FlowCheck, formatOutcomes, runFlowChecks } from "../lib/fabric/flow_checks.ts";
import {
  applyKubeProxyRules,
  kubeProxyRules,
  type ServiceSpec,
} from "../lib/fabric/kube_proxy_rules.ts";
import { execInNetns, listNetns } from "../lib/fabric/netns.ts";
import { type ProbeServer, startProbeServer } from "../lib/fabric/probe.ts";
import { runChecked } from "../lib/fabric/run_command.ts";
import { addUnderlayHost, type UnderlayHost } from "../lib/fabric/underlay_host.ts";
import { installOnNode, type NodeCni } from "../lib/demo/node_cni.ts";
import { createPod, deletePod, type DemoPod } from "../lib/demo/pods.ts";
import { nodePodCidr } from "../lib/demo/run_demo.ts";
import { pidsWithCmdline } from "../lib/fabric/daemon_process.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TEMPLATE = `${ROOT}config/10-bagpipe.conflist`;
const CP_IP = "10.199.0.240";
const EXT_IP = "10.199.0.250";
const OUTSIDE_IP = "198.51.100.10";
const WEB = 8080;
const DNS = 5353;
const KUBELET = 10250;
const API = 6443;
const HOST_PORT = 8081;

/** A pod with its server. */
interface TestPod {
  pod: DemoPod;
  server: ProbeServer;
}

Deno.test({
  name:
    "Kubernetes network model with the shipped conflist: pods, nodes, Services, NodePort, hostPort, egress",
  ignore: Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const build = await runChecked([
      Deno.execPath(),
      "task",
      "--config",
      `${ROOT}deno.json`,
      "build",
    ]);
    assert.equal(build.code, 0);
    // Generous: the machine is shared, and bagpipe-bgp (Python) takes long to start under load.
    const fabric = await startFabric({
      nodes: 3,
      readyTimeoutMs: 120_000,
    });
    const servers: ProbeServer[] = [];
    const hosts: UnderlayHost[] = [];
    const pods: DemoPod[] = [];
    const cleanup: string[] = [];
    try {
      const [n1, n2, n3] = fabric.nodes as [FabricNode, FabricNode, FabricNode];
      const cp = await addUnderlayHost(fabric, "cp", CP_IP);
      hosts.push(cp);
      const ext = await addUnderlayHost(fabric, "ext", EXT_IP, [`${OUTSIDE_IP}/32`]);
      hosts.push(ext);
      const ipOf = new Map<ProbeServer, string>();
      const serve = async (
        netns: string,
        name: string,
        ip: string,
        tcp: number[],
        udp: number[] = [],
      ) => {
        const server = await startProbeServer({
          netns,
          name,
          tcp,
          udp,
          logFile: `${fabric.workDir}/probe-${name}.log`,
        });
        servers.push(server);
        ipOf.set(server, ip);
        return server;
      };
      const apiServer = await serve(cp.netns, "apiserver", CP_IP, [API]);
      const outside = await serve(ext.netns, "outside", OUTSIDE_IP, [80]);

      // Nodes as a kubelet host sees them: a default route (here: ext), the plugin installed.
      await execInNetns(n3.name, ["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0"]);
      const forced = (await execInNetns(n3.name, [
        "sysctl",
        "-n",
        "net.bridge.bridge-nf-call-iptables",
      ])).stdout.trim();
      assert.equal(forced, "0", "bridge-nf-call-iptables could not be forced to 0 in n3");
      const cnis = new Map<FabricNode, NodeCni>();
      const nodeServers = new Map<FabricNode, ProbeServer>();
      for (const node of fabric.nodes) {
        await runChecked(["ip", "-n", node.name, "route", "add", "default", "via", EXT_IP]);
        cnis.set(
          node,
          await installOnNode({
            bundle: `${ROOT}dist/bagpipe-cni.js`,
            template: TEMPLATE,
            node,
            podCidr: nodePodCidr(TEMPLATE, node.index),
          }),
        );
        nodeServers.set(
          node,
          await serve(node.name, `${_short(node)}-host`, node.underlayIp, [KUBELET]),
        );
      }

      // Two pods per node: "web" (a Service backend, hostPort 8081) and "cli" (a client).
      const addPod = async (node: FabricNode, role: "web" | "cli"): Promise<TestPod> => {
        const name = `${_short(node)}-${role}`;
        const mappings = role === "web"
          ? [{ hostPort: HOST_PORT, containerPort: WEB, protocol: "tcp" as const }]
          : [];
        const pod = await createPod(fabric, cnis.get(node)!, name, mappings);
        pods.push(pod);
        return {
          pod,
          server: await serve(pod.netns.split("/").at(-1)!, name, pod.ip, [WEB], [DNS]),
        };
      };
      const web1 = await addPod(n1, "web");
      const cli1 = await addPod(n1, "cli");
      const web2 = await addPod(n2, "web");
      const cli2 = await addPod(n2, "cli");
      let n3Pods: { web: TestPod; cli: TestPod } | undefined;
      let n3Refusal = "";
      try {
        n3Pods = { web: await addPod(n3, "web"), cli: await addPod(n3, "cli") };
      } catch (error) {
        n3Refusal = (error as Error).message;
      }
      const bridgeNf = (await execInNetns(n3.name, [
        "sysctl",
        "-n",
        "net.bridge.bridge-nf-call-iptables",
      ])).stdout.trim();
      const bridges =
        (await execInNetns(n3.name, ["ip", "-d", "-j", "link", "show", "type", "bridge"]))
          .stdout;
      const perBridge = (JSON.parse(bridges || "[]") as {
        ifname: string;
        linkinfo?: { info_data?: { nf_call_iptables?: number } };
      }[]).map((b) => `${b.ifname} nf_call_iptables=${b.linkinfo?.info_data?.nf_call_iptables}`);

      // kube-proxy's view, written the same on every node.
      const clusterCidr = String(
        (cnis.get(n1)!.list.plugins[0]!.ipam as Record<string, unknown>).subnet,
      );
      const backend = (p: TestPod | undefined, node: FabricNode) =>
        p ? [{ ip: p.pod.ip, node: node.name }] : [];
      const webPorts = (nodePort: number) => [
        { name: "http", port: 80, targetPort: WEB, protocol: "tcp" as const, nodePort },
        { name: "dns", port: 53, targetPort: DNS, protocol: "udp" as const },
      ];
      const services: ServiceSpec[] = [
        {
          name: "svc-n1",
          clusterIP: "10.96.0.11",
          ports: webPorts(30011),
          endpoints: backend(web1, n1),
        },
        {
          name: "svc-n2",
          clusterIP: "10.96.0.12",
          ports: webPorts(30012),
          endpoints: backend(web2, n2),
        },
        {
          name: "svc-n3",
          clusterIP: "10.96.0.13",
          ports: webPorts(30013),
          endpoints: backend(n3Pods?.web, n3),
        },
        {
          name: "svc-local",
          clusterIP: "10.96.0.14",
          ports: [{ name: "http", port: 80, targetPort: WEB, protocol: "tcp", nodePort: 30014 }],
          externalTrafficPolicy: "Local",
          endpoints: backend(web2, n2),
        },
        {
          name: "kubernetes",
          clusterIP: "10.96.0.1",
          ports: [{ name: "https", port: 443, targetPort: API, protocol: "tcp" }],
          endpoints: [{ ip: CP_IP, node: "cp" }],
        },
      ];
      for (const node of fabric.nodes) {
        const rules = await kubeProxyRules(services, { node: node.name, clusterCidr });
        await applyKubeProxyRules((argv, stdin) => execInNetns(node.name, argv, { stdin }), rules);
      }

      const addresses = new Map<string, string[]>();
      for (const node of fabric.nodes) addresses.set(node.name, await _addresses(node.name));
      const isPod = (p: TestPod) => ({
        expect: `the pod's own ${p.pod.ip}`,
        test: (s: string) => s === p.pod.ip,
      });
      const ofNode = (node: FabricNode) => ({
        expect: `an address of ${node.name} (${addresses.get(node.name)!.join(", ")})`,
        test: (s: string) => addresses.get(node.name)!.includes(s),
      });
      const underlayOf = (node: FabricNode) => ({
        expect: `${node.name}'s address ${node.underlayIp}`,
        test: (s: string) => s === node.underlayIp,
      });
      const isExt = { expect: `the client's own ${EXT_IP}`, test: (s: string) => s === EXT_IP };
      const podNs = (p: TestPod) => p.pod.netns.split("/").at(-1)!;
      const check = (
        group: string,
        name: string,
        from: string,
        protocol: "tcp" | "udp",
        host: string,
        port: number,
        server: ProbeServer | undefined,
        source: FlowCheck["source"],
        nodes: FabricNode[],
      ): FlowCheck => ({
        group,
        name,
        from,
        protocol,
        host,
        port,
        server,
        source,
        nodes: nodes.map((n) => n.name),
        serverIp: server && ipOf.get(server),
      });

      // One check a line: group, name, from, protocol, host, port, who answers, the source it
      // must see, the nodes crossed.
      // deno-fmt-ignore
      const checks: FlowCheck[] = [
        check("pod ↔ pod, no NAT", "n1-cli → n1-web", podNs(cli1), "tcp", web1.pod.ip, WEB, web1.server, isPod(cli1), [n1]),
        check("pod ↔ pod, no NAT", "n1-cli → n2-web", podNs(cli1), "tcp", web2.pod.ip, WEB, web2.server, isPod(cli1), [n1, n2]),
        check("pod ↔ pod, no NAT", "n2-cli → n1-web", podNs(cli2), "tcp", web1.pod.ip, WEB, web1.server, isPod(cli2), [n2, n1]),
        check("pod ↔ pod, no NAT", "n2-cli → n1-web", podNs(cli2), "udp", web1.pod.ip, DNS, web1.server, isPod(cli2), [n2, n1]),
        check("node → pod (kubelet probes)", "n1 → n1-web", n1.name, "tcp", web1.pod.ip, WEB, web1.server, ofNode(n1), [n1]),
        check("node → pod (kubelet probes)", "n1 → n2-web", n1.name, "tcp", web2.pod.ip, WEB, web2.server, ofNode(n1), [n1, n2]),
        check("node → pod (kubelet probes)", "n2 → n2-web", n2.name, "tcp", web2.pod.ip, WEB, web2.server, ofNode(n2), [n2]),
        check("node → pod (kubelet probes)", "n2 → n1-web", n2.name, "tcp", web1.pod.ip, WEB, web1.server, ofNode(n2), [n2, n1]),
        check("pod → its node", "n1-cli → n1", podNs(cli1), "tcp", n1.underlayIp, KUBELET, nodeServers.get(n1), undefined, [n1]),
        check("pod → its node", "n2-cli → n2", podNs(cli2), "tcp", n2.underlayIp, KUBELET, nodeServers.get(n2), undefined, [n2]),
        check("pod → ClusterIP", "n1-cli → svc-n1 (same node)", podNs(cli1), "tcp", "10.96.0.11", 80, web1.server, isPod(cli1), [n1]),
        check("pod → ClusterIP", "n1-cli → svc-n1 (same node)", podNs(cli1), "udp", "10.96.0.11", 53, web1.server, isPod(cli1), [n1]),
        check("pod → ClusterIP", "n1-cli → svc-n2 (other node)", podNs(cli1), "tcp", "10.96.0.12", 80, web2.server, isPod(cli1), [n1, n2]),
        check("pod → ClusterIP", "n1-cli → svc-n2 (other node)", podNs(cli1), "udp", "10.96.0.12", 53, web2.server, isPod(cli1), [n1, n2]),
        check("pod → ClusterIP", "n2-cli → svc-n1 (other node)", podNs(cli2), "tcp", "10.96.0.11", 80, web1.server, isPod(cli2), [n2, n1]),
        check("pod → ClusterIP", "n2-cli → svc-n1 (other node)", podNs(cli2), "udp", "10.96.0.11", 53, web1.server, isPod(cli2), [n2, n1]),
        check("node → ClusterIP", "n1 → svc-n1 (local backend)", n1.name, "tcp", "10.96.0.11", 80, web1.server, ofNode(n1), [n1]),
        check("node → ClusterIP", "n1 → svc-n2 (remote backend)", n1.name, "tcp", "10.96.0.12", 80, web2.server, ofNode(n1), [n1, n2]),
        check("node → ClusterIP", "n1 → svc-n2 (remote backend)", n1.name, "udp", "10.96.0.12", 53, web2.server, ofNode(n1), [n1, n2]),
        check("NodePort from off the cluster", "ext → n1:30011 Cluster, local backend", ext.netns, "tcp", n1.underlayIp, 30011, web1.server, ofNode(n1), [n1]),
        check("NodePort from off the cluster", "ext → n1:30012 Cluster, remote backend", ext.netns, "tcp", n1.underlayIp, 30012, web2.server, ofNode(n1), [n1, n2]),
        check("NodePort from off the cluster", "ext → n2:30014 Local, local backend", ext.netns, "tcp", n2.underlayIp, 30014, web2.server, isExt, [n2]),
        check("NodePort from off the cluster", "ext → n1:30014 Local, no backend on n1 (dropped)", ext.netns, "tcp", n1.underlayIp, 30014, undefined, undefined, [n1]),
        check("hostPort (portmap) from off the cluster", "ext → n1:8081", ext.netns, "tcp", n1.underlayIp, HOST_PORT, web1.server, isExt, [n1]),
        check("hostPort (portmap) from off the cluster", "ext → n2:8081", ext.netns, "tcp", n2.underlayIp, HOST_PORT, web2.server, isExt, [n2]),
        check("hairpin: a pod through its own Service", "n1-web → svc-n1", podNs(web1), "tcp", "10.96.0.11", 80, web1.server, ofNode(n1), [n1]),
        check("hairpin: a pod through its own Service", "n1-web → svc-n1", podNs(web1), "udp", "10.96.0.11", 53, web1.server, ofNode(n1), [n1]),
        check("pod → API server on a node without pods", "n1-cli → cp:6443", podNs(cli1), "tcp", CP_IP, API, apiServer, underlayOf(n1), [n1]),
        check("pod → API server on a node without pods", "n1-cli → kubernetes 10.96.0.1:443", podNs(cli1), "tcp", "10.96.0.1", 443, apiServer, underlayOf(n1), [n1]),
        check("pod → API server on a node without pods", "n2-cli → kubernetes 10.96.0.1:443", podNs(cli2), "tcp", "10.96.0.1", 443, apiServer, underlayOf(n2), [n2]),
        check("egress off the pod network (SNAT)", `n1-cli → ${OUTSIDE_IP}:80`, podNs(cli1), "tcp", OUTSIDE_IP, 80, outside, underlayOf(n1), [n1]),
        check("egress off the pod network (SNAT)", `n2-cli → ${OUTSIDE_IP}:80`, podNs(cli2), "tcp", OUTSIDE_IP, 80, outside, underlayOf(n2), [n2]),
      ];
      if (n3Pods) {
        const { web: web3, cli: cli3 } = n3Pods;
        const g = "bridge-nf-call-iptables forced to 0 before ADD (n3): Services";
        // deno-fmt-ignore
        checks.push(
          check(g, "n3-cli → svc-n3 (same node)", podNs(cli3), "tcp", "10.96.0.13", 80, web3.server, isPod(cli3), [n3]),
          check(g, "n3-cli → svc-n3 (same node)", podNs(cli3), "udp", "10.96.0.13", 53, web3.server, isPod(cli3), [n3]),
          check(g, "n3-cli → svc-n1 (other node)", podNs(cli3), "tcp", "10.96.0.11", 80, web1.server, isPod(cli3), [n3, n1]),
          check(g, "n3-cli → svc-n1 (other node)", podNs(cli3), "udp", "10.96.0.11", 53, web1.server, isPod(cli3), [n3, n1]),
          check(g, "n1-cli → svc-n3 (backend on n3)", podNs(cli1), "tcp", "10.96.0.13", 80, web3.server, isPod(cli1), [n1, n3]),
          check(g, "n3-web → svc-n3 (hairpin)", podNs(web3), "tcp", "10.96.0.13", 80, web3.server, ofNode(n3), [n3]),
        );
      }

      const outcomes = await runFlowChecks(checks, { deadlineMs: 20_000, attemptMs: 3_000 });
      if (n3Pods && perBridge.length > 0) {
        // Control: with the global sysctl 0, the bridge's own nf_call_iptables is what keeps
        // Services working on n3. Turned off by hand, the same request must go unanswered (the
        // backend's reply is bridged back without its un-DNAT); turned on again, answered.
        const { web: web3, cli: cli3 } = n3Pods;
        const bridge = perBridge[0]!.split(" ")[0]!;
        const flag = (on: 0 | 1) =>
          runChecked([
            "ip",
            "-n",
            n3.name,
            "link",
            "set",
            bridge,
            "type",
            "bridge",
            "nf_call_iptables",
            String(on),
          ]);
        const g = "control: n3's bridge nf_call_iptables off by hand, then on again";
        // deno-fmt-ignore
        const probe = (name: string, server: ProbeServer | undefined) =>
          check(g, name, podNs(cli3), "tcp", "10.96.0.13", 80, server, isPod(cli3), [n3]);
        await flag(0);
        outcomes.push(
          ...await runFlowChecks([probe("n3-cli → svc-n3, flag off: no answer", undefined)]),
        );
        await flag(1);
        outcomes.push(
          ...await runFlowChecks([probe("n3-cli → svc-n3, flag on again", web3.server)]),
        );
      }
      const report = formatOutcomes(outcomes);
      const failed = outcomes.filter((o) => !o.ok);
      const bridgeNfVerdict = n3Pods
        ? `n3: ADD accepted with bridge-nf-call-iptables forced to 0; after ADD the sysctl is ${bridgeNf}, bridges: ${
          perBridge.join(", ") || "none"
        }`
        : /bridge-nf-call-iptables/.test(n3Refusal)
        ? `n3: ADD refused, naming the setting: ${n3Refusal}`
        : `n3: ADD failed WITHOUT naming bridge-nf-call-iptables: ${n3Refusal}`;
      console.log(
        [
          `${outcomes.length - failed.length} of ${outcomes.length} checks passed`,
          ...report,
          bridgeNfVerdict,
        ].join("\n"),
      );
      assert.deepEqual(
        failed.map((o) => `${o.check.name} ${o.check.protocol}: ${o.diagnosis?.hop ?? o.problem}`),
        [],
        `${failed.length} of ${outcomes.length} checks failed (report above)`,
      );
      // Accepted: the n3 checks above proved Services work there (the plugin may have set the
      // sysctl or its bridge's own nf_call_iptables). Refused: the error must name the setting.
      assert.ok(n3Pods || /bridge-nf-call-iptables/.test(n3Refusal), bridgeNfVerdict);
    } finally {
      for (const server of servers) await server.stop().catch((e) => cleanup.push(String(e)));
      for (const pod of pods.reverse()) {
        await deletePod(pod).catch((e) => cleanup.push(`DEL ${pod.name}: ${(e as Error).message}`));
      }
      for (const host of hosts) await host.remove().catch((e) => cleanup.push(String(e)));
      const workDir = fabric.workDir;
      await fabric.teardown();
      const leftNetns = (await listNetns()).filter((n) => n.startsWith(`${fabric.id}-`));
      const leftPids = await pidsWithCmdline(`${workDir}/`);
      assert.deepEqual(
        { netns: leftNetns, pids: leftPids, cleanup },
        { netns: [], pids: [], cleanup: [] },
        "the test left something behind",
      );
    }
  },
});

/** "n1" from "bcni-xxxxxx-n1". */
function _short(node: FabricNode): string {
  return node.name.slice(node.name.lastIndexOf("-") + 1);
}

/** The IPv4 addresses of a netns (any interface but lo). */
async function _addresses(netns: string): Promise<string[]> {
  const out = await execInNetns(netns, ["ip", "-j", "-4", "addr", "show"]);
  const links = JSON.parse(out.stdout || "[]") as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  return links.filter((l) => l.ifname !== "lo").flatMap((l) => l.addr_info.map((a) => a.local));
}
