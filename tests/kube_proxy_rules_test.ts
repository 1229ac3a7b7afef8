/**
 * lib/fabric/kube_proxy_rules.ts: the text kube-proxy's iptables mode would write for small
 * Service descriptions (chain names checked against values from kube-proxy's own tests), then
 * the rules applied for real with iptables-restore in a network namespace of the test's own.
 */
import assert from "node:assert/strict";
import {
  applyKubeProxyRules,
  chainHash,
  kubeProxyJumps,
  kubeProxyRules,
  type ServiceSpec,
} from "../lib/fabric/kube_proxy_rules.ts";
import { createNetns, deleteNetns, execInNetns } from "../lib/fabric/netns.ts";
import { uniqueName } from "./helpers/plugin.ts";

const NODE = { node: "n1", clusterCidr: "10.0.0.0/8" };

Deno.test("chain names hash the port name as kube-proxy does (values from its proxier_test.go)", async () => {
  assert.equal(await chainHash("ns1/svc1:p80tcp"), "XPGD46QRK7WJZT7O");
  assert.equal(await chainHash("ns1/svc1:p80tcp10.180.0.1:80"), "SXIVWICOYRO3J4NJ");
  assert.equal(await chainHash("ns1/svc1:p80tcp10.180.2.1:80"), "ZX7GRIZKSNUQ3LAJ");
});

const svc1 = (extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  namespace: "ns1",
  name: "svc1",
  clusterIP: "172.30.0.41",
  ports: [{ name: "p80", port: 80, targetPort: 80, protocol: "tcp" }],
  endpoints: [{ ip: "10.180.0.1", node: "n2" }],
  ...extra,
});

Deno.test("one ClusterIP Service with one endpoint: the whole restore text", async () => {
  const { restore } = await kubeProxyRules([svc1()], NODE);
  assert.equal(
    restore,
    [
      "*filter",
      ":KUBE-SERVICES - [0:0]",
      ":KUBE-EXTERNAL-SERVICES - [0:0]",
      ":KUBE-FORWARD - [0:0]",
      ":KUBE-NODEPORTS - [0:0]",
      ":KUBE-PROXY-FIREWALL - [0:0]",
      "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      "COMMIT",
      "*nat",
      ":KUBE-SERVICES - [0:0]",
      ":KUBE-NODEPORTS - [0:0]",
      ":KUBE-POSTROUTING - [0:0]",
      ":KUBE-MARK-MASQ - [0:0]",
      ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]",
      ":KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]",
      "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
      "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
      "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
      "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
      "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS',
      "COMMIT",
      "",
    ].join("\n"),
  );
});

const twoEndpoints = [{ ip: "10.180.0.1", node: "n2" }, { ip: "10.180.2.1", node: "n1" }];
const nodePort = [{
  name: "p80",
  port: 80,
  targetPort: 80,
  protocol: "tcp" as const,
  nodePort: 3001,
}];

const CASES: { name: string; services: ServiceSpec[]; has: string[]; hasNot: string[] }[] = [
  {
    name: "two endpoints: the first chosen with probability 1/2, the last always",
    services: [svc1({ endpoints: twoEndpoints })],
    has: [
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ',
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.2.1:80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ',
      "-A KUBE-SEP-ZX7GRIZKSNUQ3LAJ -m comment --comment ns1/svc1:p80 -s 10.180.2.1 -j KUBE-MARK-MASQ",
    ],
    hasNot: ["KUBE-EXT-", "KUBE-SVL-"],
  },
  {
    name: "NodePort, externalTrafficPolicy Cluster: external traffic always masqueraded",
    services: [svc1({ ports: nodePort, endpoints: twoEndpoints })],
    has: [
      ":KUBE-EXT-XPGD46QRK7WJZT7O - [0:0]",
      "-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O",
      '-A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j KUBE-MARK-MASQ',
      "-A KUBE-EXT-XPGD46QRK7WJZT7O -j KUBE-SVC-XPGD46QRK7WJZT7O",
    ],
    hasNot: ["KUBE-SVL-", "KUBE-EXTERNAL-SERVICES -m"],
  },
  {
    name: "NodePort, externalTrafficPolicy Local with a local endpoint: KUBE-SVL holds only it",
    services: [svc1({ ports: nodePort, endpoints: twoEndpoints, externalTrafficPolicy: "Local" })],
    has: [
      '-A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "pod traffic for ns1/svc1:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-XPGD46QRK7WJZT7O',
      '-A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "masquerade LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
      '-A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "route LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-XPGD46QRK7WJZT7O',
      "-A KUBE-EXT-XPGD46QRK7WJZT7O -j KUBE-SVL-XPGD46QRK7WJZT7O",
      '-A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.2.1:80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ',
    ],
    hasNot: [
      "masquerade traffic for",
      'KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1',
    ],
  },
  {
    name: "NodePort Local without a local endpoint: dropped for outsiders, no KUBE-SVL",
    services: [
      svc1({
        ports: nodePort,
        endpoints: [{ ip: "10.180.0.1", node: "n2" }],
        externalTrafficPolicy: "Local",
      }),
    ],
    has: [
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP',
      "-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O",
    ],
    hasNot: ["KUBE-SVL-", "-A KUBE-EXT-XPGD46QRK7WJZT7O -j "],
  },
  {
    name: "no endpoints: REJECT in filter, no nat chains of its own",
    services: [svc1({ ports: nodePort, endpoints: [] })],
    has: [
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT',
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT',
    ],
    hasNot: ["KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-"],
  },
  {
    name: "UDP with a target port: its own chain names, DNAT to the target port",
    services: [{
      name: "dns",
      namespace: "kube-system",
      clusterIP: "10.96.0.10",
      ports: [{ name: "dns", port: 53, targetPort: 5353, protocol: "udp" }],
      endpoints: [{ ip: "10.27.1.5", node: "n1" }],
    }],
    has: [
      '-m comment --comment "kube-system/dns:dns cluster IP" -m udp -p udp -d 10.96.0.10 --dport 53 -j KUBE-SVC-',
      "-m comment --comment kube-system/dns:dns -m udp -p udp -j DNAT --to-destination 10.27.1.5:5353",
      "-m comment --comment kube-system/dns:dns -s 10.27.1.5 -j KUBE-MARK-MASQ",
    ],
    hasNot: ["-m tcp"],
  },
];

for (const c of CASES) {
  Deno.test(`kube-proxy rules: ${c.name}`, async () => {
    const { restore } = await kubeProxyRules(c.services, NODE);
    for (const line of c.has) {
      assert.ok(restore.includes(line), `missing:\n${line}\nin:\n${restore}`);
    }
    for (const text of c.hasNot) {
      assert.ok(!restore.includes(text), `unexpected ${text} in:\n${restore}`);
    }
    const declared = [...restore.matchAll(/^:(\S+) /gm)].map((m) => m[1]);
    for (const jump of restore.matchAll(/-j (KUBE-[A-Z0-9-]+)/g)) {
      assert.ok(declared.includes(jump[1]), `${jump[1]} is jumped to but not declared`);
    }
  });
}

Deno.test("kube-proxy rules: a bad description is refused with the Service named", async () => {
  await assert.rejects(
    kubeProxyRules([svc1({ clusterIP: "none" })], NODE),
    /Service svc1: clusterIP none is not IPv4/,
  );
  await assert.rejects(
    kubeProxyRules([svc1({ ports: [{ port: 0, targetPort: 80, protocol: "tcp" }] })], NODE),
    /Service svc1: port 0 is out of range/,
  );
});

Deno.test("kube-proxy's jumps: the built-in chains it hooks, with its comments", () => {
  const jumps = kubeProxyJumps().map((j) => `${j.table} ${j.from} ${j.args.join(" ")}`);
  assert.ok(
    jumps.includes(
      "nat PREROUTING -m comment --comment kubernetes service portals -j KUBE-SERVICES",
    ),
  );
  assert.ok(
    jumps.includes("nat OUTPUT -m comment --comment kubernetes service portals -j KUBE-SERVICES"),
  );
  assert.ok(
    jumps.includes(
      "nat POSTROUTING -m comment --comment kubernetes postrouting rules -j KUBE-POSTROUTING",
    ),
  );
  assert.ok(
    jumps.includes(
      "filter FORWARD -m comment --comment kubernetes forwarding rules -j KUBE-FORWARD",
    ),
  );
});

Deno.test({
  name: "kube-proxy rules applied for real in a namespace: twice, with the same result",
  ignore: Deno.uid() !== 0,
  async fn() {
    const netns = uniqueName("kpr");
    await createNetns(netns);
    try {
      const run = (argv: string[], stdin?: string) => execInNetns(netns, argv, { stdin });
      const services = [
        svc1({ ports: nodePort, endpoints: twoEndpoints, externalTrafficPolicy: "Local" }),
        svc1({ name: "svc2", clusterIP: "172.30.0.42", endpoints: [] }),
      ];
      const rules = await kubeProxyRules(services, NODE);
      await applyKubeProxyRules(run, rules);
      const first = await run(["iptables-save"]);
      await applyKubeProxyRules(run, rules);
      const second = await run(["iptables-save"]);
      const rulesOf = (text: string) => text.split("\n").filter((l) => l.startsWith("-A")).sort();
      assert.deepEqual(
        rulesOf(second.stdout),
        rulesOf(first.stdout),
        "applying again changed rules",
      );
      const nat = (await run(["iptables-save", "-t", "nat"])).stdout;
      assert.match(
        nat,
        /-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES/,
      );
      assert.match(
        nat,
        /-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING/,
      );
      assert.match(nat, /-A KUBE-SEP-ZX7GRIZKSNUQ3LAJ .*-j DNAT --to-destination 10\.180\.2\.1:80/);
      assert.match(nat, /-A KUBE-SVL-XPGD46QRK7WJZT7O /);
      const filter = (await run(["iptables-save", "-t", "filter"])).stdout;
      assert.match(filter, /-A KUBE-SERVICES .*172\.30\.0\.42\/32 .*-j REJECT/);
      assert.equal(
        rulesOf(first.stdout).filter((l) => l.includes("-j KUBE-SERVICES")).length,
        4,
        "one jump to KUBE-SERVICES each from nat PREROUTING/OUTPUT and filter FORWARD/OUTPUT",
      );
    } finally {
      await deleteNetns(netns);
    }
  },
});
