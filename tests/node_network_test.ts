/**
 * The node side of a network (bridge, VXLAN device, gateway, sysctls, masquerade) made by the
 * plugin's code running inside a node netns this test creates: what the kernel then has, that a
 * second run changes nothing, that concurrent first ADDs make it once, and that CHECK/STATUS's
 * problems() names each missing piece. The fabric-level behaviour is in tests/e2e_fabric_test.ts.
 */
import assert from "node:assert/strict";
import { run } from "../lib/net/run.ts";
import type { NetworkSpec } from "../lib/state/networks.ts";
import { ip, uniqueName } from "./helpers/plugin.ts";

const PROBE = new URL("./helpers/node_network_probe.ts", import.meta.url).pathname;
const VTEP = { address: "10.199.77.1", port: 4789 };
const SPEC: NetworkSpec = {
  instanceId: "nnt",
  bagpipeUrl: "http://127.0.0.1:8082",
  vni: 4242,
  mtu: 1450,
  importRt: ["64512:42"],
  exportRt: ["64512:42"],
  gatewayCidr: "10.42.3.1/16",
  mac: "0a:58:0a:2a:03:01",
  masquerade: { subnet: "10.42.0.0/16", nonMasqueradeCidrs: ["10.96.0.0/12"] },
};

async function inNode(node: string, argv: string[]): Promise<string> {
  const out = await run("ip", ["netns", "exec", node, ...argv]);
  if (out.code !== 0) throw new Error(`${argv.join(" ")} in ${node}: ${out.stderr}`);
  return out.stdout.trim();
}

async function probe(
  node: string,
  stateDir: string,
  action: "ensure" | "problems",
  extra: { spec?: NetworkSpec; force?: boolean } = {},
): Promise<{ made?: boolean; problems?: string[]; error?: string }> {
  const arg = JSON.stringify({ action, spec: extra.spec ?? SPEC, stateDir, vtep: VTEP, ...extra });
  const out = await inNode(node, [Deno.execPath(), "run", "-A", PROBE, arg]);
  return JSON.parse(out.split("\n").at(-1)!);
}

/** A node netns with an "underlay" address for the VTEP and the kernel defaults made hostile. */
async function makeNode(): Promise<{ node: string; stateDir: string }> {
  const node = uniqueName("nn");
  await ip("netns", "add", node);
  await ip("-n", node, "link", "add", "u0", "type", "veth", "peer", "name", "u1");
  await ip("-n", node, "addr", "add", `${VTEP.address}/24`, "dev", "u0");
  await ip("-n", node, "link", "set", "u0", "up");
  await ip("-n", node, "link", "set", "lo", "up");
  await inNode(node, ["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
  await inNode(node, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"]);
  await inNode(node, ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1"]);
  return { node, stateDir: await Deno.makeTempDir({ prefix: `${node}-` }) };
}

async function dropNode({ node, stateDir }: { node: string; stateDir: string }): Promise<void> {
  await run("ip", ["netns", "del", node]);
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
}

Deno.test("ensure(): the layout, sysctls and masquerade of the Kubernetes network model, once", async () => {
  const n = await makeNode();
  try {
    assert.deepEqual(await probe(n.node, n.stateDir, "ensure"), { made: true });
    const [vx] = JSON.parse(
      await inNode(n.node, ["ip", "-d", "-json", "link", "show", "bpvx-nnt"]),
    );
    const data = vx.linkinfo.info_data;
    assert.equal(data.id, 4242);
    assert.equal(data.local, VTEP.address);
    assert.equal(data.port, 4789);
    assert.equal(data.learning, false);
    assert.equal(data.proxy, undefined, "no proxy");
    assert.equal(vx.master, "bpbr-nnt");
    assert.equal(vx.mtu, 1450);
    assert.equal(vx.inet6_addr_gen_mode, "none");
    const read = (path: string) => inNode(n.node, ["cat", path]);
    assert.equal(await read("/sys/class/net/bpbr-nnt/address"), SPEC.mac);
    assert.equal(await read("/sys/class/net/bpbr-nnt/bridge/nf_call_iptables"), "1");
    assert.equal(await read("/sys/class/net/bpbr-nnt/bridge/stp_state"), "0");
    assert.equal(await read("/sys/class/net/bpbr-nnt/bridge/forward_delay"), "0");
    assert.equal(await read("/proc/sys/net/bridge/bridge-nf-call-iptables"), "0", "global left");
    assert.equal(await read("/proc/sys/net/ipv4/ip_forward"), "1");
    assert.equal(await read("/proc/sys/net/ipv4/conf/bpbr-nnt/rp_filter"), "2");
    assert.match(
      await inNode(n.node, ["ip", "-4", "addr", "show", "bpbr-nnt"]),
      /10\.42\.3\.1\/16/,
    );
    const nat = await inNode(n.node, ["iptables", "-t", "nat", "-S"]);
    assert.deepEqual(nat.split("\n").filter((l) => l.includes("BPCNI-MASQ-nnt")), [
      "-N BPCNI-MASQ-nnt",
      '-A POSTROUTING -s 10.42.0.0/16 -m comment --comment "bagpipe-cni nnt masquerade" -j BPCNI-MASQ-nnt',
      "-A BPCNI-MASQ-nnt -d 10.42.0.0/16 -j RETURN",
      "-A BPCNI-MASQ-nnt -d 10.96.0.0/12 -j RETURN",
      "-A BPCNI-MASQ-nnt -d 224.0.0.0/4 -j RETURN",
      "-A BPCNI-MASQ-nnt -j MASQUERADE",
    ]);
    assert.deepEqual(await probe(n.node, n.stateDir, "problems"), { problems: [] });

    // The common ADD: everything there, nothing made.
    assert.deepEqual(await probe(n.node, n.stateDir, "ensure"), { made: false });
    // A forced run (STATUS's repair) is idempotent too: still one jump, the same chain.
    assert.deepEqual(await probe(n.node, n.stateDir, "ensure", { force: true }), { made: true });
    assert.equal(await inNode(n.node, ["iptables", "-t", "nat", "-S"]), nat);
  } finally {
    await dropNode(n);
  }
});

Deno.test("ensure(): concurrent first ADDs of one network make it once", async () => {
  const n = await makeNode();
  try {
    const results = await Promise.all(
      [1, 2, 3].map(() => probe(n.node, n.stateDir, "ensure")),
    );
    assert.deepEqual(results.map((r) => r.error), [undefined, undefined, undefined]);
    assert.equal(results.filter((r) => r.made).length, 1, JSON.stringify(results));
    const nat = await inNode(n.node, ["iptables", "-t", "nat", "-S", "POSTROUTING"]);
    assert.equal(nat.split("\n").filter((l) => l.includes("BPCNI-MASQ-nnt")).length, 1);
  } finally {
    await dropNode(n);
  }
});

Deno.test("problems(): each missing piece named; a forced ensure repairs what it can", async () => {
  const n = await makeNode();
  try {
    await probe(n.node, n.stateDir, "ensure");
    await inNode(n.node, ["ip", "addr", "del", "10.42.3.1/16", "dev", "bpbr-nnt"]);
    await inNode(n.node, ["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    await inNode(n.node, ["iptables", "-t", "nat", "-F", "BPCNI-MASQ-nnt"]);
    await inNode(n.node, ["ip", "link", "del", "bpvx-nnt"]);
    await inNode(n.node, [
      "ip",
      "link",
      "add",
      "bpvx-nnt",
      "type",
      "vxlan",
      "id",
      "4242",
      "local",
      VTEP.address,
      "dstport",
      "4789",
      "nolearning",
      "proxy",
    ]);
    const { problems } = await probe(n.node, n.stateDir, "problems");
    const text = problems!.join("\n");
    for (
      const piece of [
        /lacks the node's gateway address 10\.42\.3\.1\/16/,
        /VXLAN device "bpvx-nnt" has "proxy"/,
        /VXLAN device "bpvx-nnt" is not plugged into bridge "bpbr-nnt"/,
        /VXLAN device "bpvx-nnt" is down/,
        /net\.ipv4\.ip_forward is 0/,
        /nat chain BPCNI-MASQ-nnt does not hold the masquerade rules/,
      ]
    ) assert.match(text, piece);
    assert.deepEqual(
      await probe(n.node, n.stateDir, "ensure"),
      { made: true },
      "not ready: remade",
    );
    const after = (await probe(n.node, n.stateDir, "problems")).problems!;
    // The kernel cannot take `proxy` off a VXLAN device: that one is for the operator.
    assert.deepEqual(after, [
      'VXLAN device "bpvx-nnt" has "proxy": it drops ARP it cannot answer (first contact ~1 s); delete it, the next ADD or STATUS remakes it',
    ]);
  } finally {
    await dropNode(n);
  }
});
