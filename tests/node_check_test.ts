/**
 * `bagpipe-cni verify --node` on a real fabric (GoBGP reflector, two nodes running the stock
 * bagpipe-bgp, pods made by the installed plugin): a converged node gives no finding, and each
 * real inconsistency injected into a node's kernel or daemon gives exactly its finding, naming
 * MAC, IP, VNI, VTEP and the record or device.
 */
import { vxlanFdb } from "./helpers/vxlan_fdb.ts";
import assert from "node:assert/strict";
import { type Fabric, type FabricNode, startFabric } from "../lib/fabric/fabric.ts";
import type { NodeCheckReport, NodeFinding } from "../lib/node_check/mod.ts";
import { parseEvpnRoute } from "../lib/bagpipe/evpn_routes.ts";
import { saveAttachment } from "../lib/state/attachments.ts";
import { Cluster, type Network } from "./helpers/cluster.ts";

const BUNDLE = new URL("../dist/bagpipe-cni.js", import.meta.url).pathname;

const net: Network = { name: "chk", instance: "chk", rt: "64512:510", prefix: "10.51", vni: 510 };
// Not a node of the fabric: a VTEP that never advertised anything.
const NOWHERE_VTEP = "10.199.0.99";

/** Runs the installed CLI's node check inside the node netns; returns exit code and report. */
async function verifyNode(
  f: Fabric,
  cluster: Cluster,
  node: FabricNode,
  extra: string[] = [],
): Promise<{ code: number; report?: NodeCheckReport; stdout: string; stderr: string }> {
  const out = await f.exec(node.name, [
    cluster.plugin(node),
    "verify",
    "--node",
    "--state-dir",
    cluster.stateDir(node),
    "--json",
    ...extra,
  ]);
  let report: NodeCheckReport | undefined;
  try {
    report = JSON.parse(out.stdout);
  } catch {
    // exit 2 prints no report
  }
  return { ...out, report };
}

/** Checks until the node is clean (routes still being applied), or fails with the last report. */
async function waitClean(f: Fabric, cluster: Cluster, node: FabricNode): Promise<NodeCheckReport> {
  let last;
  for (let i = 0; i < 40; i++) {
    last = await verifyNode(f, cluster, node);
    if (last.code === 0) return last.report!;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${node.name} never became clean: exit ${last?.code} ${last?.stderr}\n` +
      JSON.stringify(last?.report?.findings, null, 1),
  );
}

/** Checks until the node shows findings (a withdrawal travelling), then returns them. */
async function waitFindings(
  f: Fabric,
  cluster: Cluster,
  node: FabricNode,
  kind: string,
): Promise<NodeFinding[]> {
  let last;
  for (let i = 0; i < 40; i++) {
    last = await verifyNode(f, cluster, node);
    if (last.code === 1 && last.report!.findings.some((x) => x.kind === kind)) {
      return last.report!.findings;
    }
    assert.ok(last.code !== 2, `node check failed: ${last.stderr}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${node.name} never showed ${kind}: ${JSON.stringify(last?.report?.findings)}`);
}

Deno.test("looking-glass route texts: type 2 with and without IP, type 3 with its PMSI VNI", () => {
  assert.deepEqual(
    parseEvpnRoute("evpn:macadv::10.199.0.12:0:-:0:0A:58:0A:29:02:0A/48:10.41.2.10: label 1 (16)", {
      next_hop: "10.199.0.12",
    }),
    {
      type: "mac_ip",
      rd: "10.199.0.12:0",
      mac: "0a:58:0a:29:02:0a",
      ip: "10.41.2.10",
      vni: 16,
      nextHop: "10.199.0.12",
      text: "evpn:macadv::10.199.0.12:0:-:0:0A:58:0A:29:02:0A/48:10.41.2.10: label 1 (16)",
    },
  );
  const macOnly = parseEvpnRoute(
    "evpn:macadv::10.196.0.40:2:-:0:02:00:0A:1C:64:0A/48:: label 5 (90)",
    {
      next_hop: "10.196.0.40",
    },
  );
  assert.equal(macOnly.ip, undefined);
  assert.equal(macOnly.vni, 90);
  const v6 = parseEvpnRoute(
    "evpn:macadv::10.196.0.40:2:-:0:02:00:0A:1C:64:0A/48:fd00:10::a: label 5 (90)",
    {
      next_hop: "10.196.0.40",
    },
  );
  assert.deepEqual([v6.type, v6.ip, v6.vni], ["mac_ip", "fd00:10::a", 90]);
  const imet = parseEvpnRoute("evpn:multicast::10.199.0.12:0:0:10.199.0.12", {
    next_hop: "10.199.0.12",
    attributes: { "pmsi-tunnel": "pmsi:ingressreplication:0:1(16):10.199.0.12" },
  });
  assert.deepEqual([imet.type, imet.rd, imet.vni], ["multicast", "10.199.0.12:0", 16]);
});

Deno.test("verify --node on a real fabric: clean, then each injected drift gives exactly its finding", async (t) => {
  let fabric: Fabric | undefined;
  try {
    fabric = await startFabric({ nodes: 2, readyTimeoutMs: 120_000 });
    const f = fabric;
    const [n1, n2] = f.nodes as [FabricNode, FabricNode];
    const cluster = await Cluster.create(f);
    const p1 = await cluster.addPod(n1, net);
    const p2 = await cluster.addPod(n2, net);
    const p3 = await cluster.addPod(n2, net);
    assert.ok(await cluster.pingUntil(p1, p2.ip) !== undefined, "pods should reach each other");

    let vxlan = "";
    await t.step(
      "a converged node: no finding, exit 0, devices found through the veth's bridge",
      async () => {
        const r1 = await waitClean(f, cluster, n1);
        await waitClean(f, cluster, n2);
        const instance = r1.instances.find((i) => i.id === net.instance);
        assert.ok(instance?.vxlan && instance.bridge, JSON.stringify(r1.instances));
        vxlan = instance.vxlan;
        // The pod and the node's gateway (the bridge itself is its port).
        assert.equal(instance.ports, 2);
        // Two remote pods, node 2's gateway and one flood entry, all on node 2's VTEP.
        assert.equal(instance.fdbEntries, 4);
        assert.equal(r1.records, 1);
        const text = await f.exec(n1.name, [
          cluster.plugin(n1),
          "verify",
          "--node",
          "--state-dir",
          cluster.stateDir(n1),
        ]);
        assert.equal(text.code, 0, text.stdout + text.stderr);
        assert.match(text.stdout, /consistent/);
      },
    );

    await t.step(
      "a remote pod's fdb entry rewritten to a VTEP that never advertised it",
      async () => {
        await vxlanFdb(f, n1, "replace", p2.mac, vxlan, NOWHERE_VTEP);
        const out = await verifyNode(f, cluster, n1);
        assert.equal(out.code, 1, out.stderr);
        assert.deepEqual(
          out.report!.findings.map((
            x,
          ) => [x.kind, x.mac, x.ip, x.vtep, x.expectedVteps, x.device, x.vni]),
          [[
            "fdb_wrong_vtep",
            p2.mac,
            p2.ip,
            NOWHERE_VTEP,
            [n2.underlayIp],
            vxlan,
            out.report!.instances[0]!.vni,
          ]],
        );
        assert.equal(out.report!.counts.fdb_wrong_vtep, 1);
        await vxlanFdb(f, n1, "replace", p2.mac, vxlan, n2.underlayIp);
        await waitClean(f, cluster, n1);
      },
    );

    await t.step("a leftover fdb entry for a pod that was deleted", async () => {
      await cluster.delPod(p3);
      // The route's withdrawal removes node 1's entry; wait for that, then put it back.
      for (let i = 0; i < 40; i++) {
        const fdb = await f.exec(n1.name, ["bridge", "fdb", "show", "dev", vxlan]);
        if (!fdb.stdout.includes(p3.mac)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await waitClean(f, cluster, n1);
      await vxlanFdb(f, n1, "append", p3.mac, vxlan, n2.underlayIp);
      const out = await verifyNode(f, cluster, n1);
      assert.equal(out.code, 1, out.stderr);
      assert.deepEqual(
        out.report!.findings.map((x) => [x.kind, x.mac, x.vtep, x.device]),
        [["fdb_stale", p3.mac, n2.underlayIp, vxlan]],
      );
      await vxlanFdb(f, n1, "del", p3.mac, vxlan, n2.underlayIp);
      await waitClean(f, cluster, n1);
    });

    await t.step(
      "node 2 after that DEL: the endpoint the daemon kept (bug B1) has no record",
      async () => {
        const out = await verifyNode(f, cluster, n2);
        assert.equal(out.code, 1, out.stderr);
        assert.deepEqual(
          out.report!.findings.map((x) => [x.kind, x.mac, x.ip, x.port]),
          [["port_without_record", p3.mac, p3.ip, p3.hostVeth]],
        );
      },
    );

    await t.step("a route withdrawn through the daemon while the record remains", async () => {
      const detach = await f.api(n1, "POST", "/detach_localport", {
        vpn_type: "evpn",
        vpn_instance_id: net.instance,
        mac_address: p1.mac,
        local_port: { linuxif: p1.hostVeth },
        ip_address: `${p1.ip}/16`,
      });
      // Stock 17.0.0 answers 500 after withdrawing (B1); a fixed daemon answers 200.
      assert.ok([200, 500].includes(detach.status), detach.text);
      const findings = await waitFindings(f, cluster, n1, "route_not_advertised");
      const kinds = findings.map((x) => x.kind);
      // B1 keeps the endpoint listed, so the route is what is missing; a daemon without B1
      // forgets the port as well.
      assert.ok(
        kinds.length === 1 && ["route_not_advertised", "port_not_attached"].includes(kinds[0]!),
        JSON.stringify(findings),
      );
      const [x] = findings;
      assert.deepEqual([x!.mac, x!.ip, x!.record, x!.device], [
        p1.mac,
        p1.ip,
        `${p1.containerId}/eth0`,
        p1.hostVeth,
      ]);
      // Node 2 lost the route, and with it the fdb and neighbour entries: nothing new there.
      const n2Findings = (await verifyNode(f, cluster, n2)).report!.findings;
      assert.deepEqual(n2Findings.map((y) => y.kind), ["port_without_record"]);
    });

    await t.step("a daemon that does not answer: exit 2 saying so, no report", async () => {
      const out = await verifyNode(f, cluster, n1, ["--bagpipe-url", "http://127.0.0.1:1"]);
      assert.equal(out.code, 2);
      assert.match(out.stderr, /could not run: .*127\.0\.0\.1:1/);
      const bad = await verifyNode(f, cluster, n1, ["--timeout-ms", "soon"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--timeout-ms "soon"/);
    });
  } finally {
    await fabric?.teardown();
  }
});

/**
 * The plugin-owned layout (README, "Kubernetes network model"): the plugin owns bridge
 * `bpbr-<id>` and VXLAN device `bpvx-<id>` (forced VNI, no `proxy`), the daemon is told about
 * them with `linuxbr`, and the node's gateway is attached with the bridge as its port. Built here
 * by hand with the same commands, so the node check is held to both layouts.
 */
Deno.test("verify --node with plugin-owned bpbr/bpvx devices (linuxbr): clean, then a wrong VTEP", async () => {
  let fabric: Fabric | undefined;
  const instance = "lb", vni = 90, rt = "64512:530";
  try {
    fabric = await startFabric({ nodes: 2, readyTimeoutMs: 120_000 });
    const f = fabric;
    const [n1, n2] = f.nodes as [FabricNode, FabricNode];
    const bridge = `bpbr-${instance}`, vxlan = `bpvx-${instance}`;
    const pods = new Map<FabricNode, { mac: string; ip: string; veth: string }>();
    const stateDirs = new Map<FabricNode, string>();
    for (const node of [n1, n2]) {
      const sh = async (...argv: string[]) => {
        const out = await f.exec(node.name, argv);
        assert.equal(out.code, 0, `${argv.join(" ")} on ${node.name}: ${out.stderr}`);
        return out.stdout;
      };
      const podNetns = (await f.addPodNetns(node, `lbpod${node.index}`)).split("/").at(-1)!;
      const pod = {
        mac: `0a:58:0a:35:0${node.index}:0a`,
        ip: `10.53.${node.index}.10`,
        veth: `lbh${node.index}`,
      };
      pods.set(node, pod);
      await sh("ip", "link", "add", bridge, "type", "bridge");
      await sh("ip", "link", "set", bridge, "address", `0a:58:0a:35:0${node.index}:01`, "up");
      await sh(
        "ip",
        "link",
        "add",
        vxlan,
        "type",
        "vxlan",
        "id",
        String(vni),
        "local",
        node.underlayIp,
        "dstport",
        "4789",
        "nolearning",
      );
      await sh("ip", "link", "set", vxlan, "master", bridge, "up");
      await sh(
        "ip",
        "link",
        "add",
        pod.veth,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        podNetns,
      );
      await sh("ip", "-n", podNetns, "link", "set", "eth0", "address", pod.mac);
      await sh("ip", "-n", podNetns, "addr", "add", `${pod.ip}/16`, "dev", "eth0");
      await sh("ip", "-n", podNetns, "link", "set", "eth0", "up");
      await sh("ip", "link", "set", pod.veth, "master", bridge, "up");
      const attach = (body: Record<string, unknown>) =>
        f.api(node, "POST", "/attach_localport", {
          vpn_type: "evpn",
          vpn_instance_id: instance,
          import_rt: [rt],
          export_rt: [rt],
          vni,
          linuxbr: bridge,
          ...body,
        });
      const podAttach = await attach({
        mac_address: pod.mac,
        ip_address: `${pod.ip}/16`,
        local_port: { linuxif: pod.veth },
      });
      assert.equal(podAttach.status, 200, podAttach.text);
      // The node's gateway: the bridge itself is the endpoint's port.
      const gateway = await attach({
        mac_address: `0a:58:0a:35:0${node.index}:01`,
        ip_address: `10.53.${node.index}.1/32`,
        local_port: { linuxif: bridge },
      });
      assert.equal(gateway.status, 200, gateway.text);
      const stateDir = `${f.workDir}/lb-state-${node.index}`;
      stateDirs.set(node, stateDir);
      saveAttachment(stateDir, {
        containerId: `lbctr${node.index}`,
        ifname: "eth0",
        netns: `/run/netns/${podNetns}`,
        network: instance,
        cniVersion: "1.1.0",
        hostVeth: pod.veth,
        mac: pod.mac,
        ips: [`${pod.ip}/16`],
        instanceId: instance,
        importRt: [rt],
        exportRt: [rt],
        vni,
        advertiseSubnet: false,
        isGateway: true,
        bagpipeUrl: "http://127.0.0.1:8082",
        ipam: {},
        createdAt: new Date().toISOString(),
      });
    }
    const run = (node: FabricNode) =>
      f.exec(node.name, [
        Deno.execPath(),
        "run",
        "-A",
        "--no-config",
        BUNDLE,
        "verify",
        "--node",
        "--json",
        "--state-dir",
        stateDirs.get(node)!,
      ]);
    let clean;
    for (let i = 0; i < 40; i++) {
      clean = await run(n1);
      if (clean.code === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(clean?.code, 0, `${clean?.stdout}${clean?.stderr}`);
    const report = JSON.parse(clean!.stdout) as NodeCheckReport;
    assert.deepEqual(
      report.instances.map((i) => [i.id, i.vni, i.bridge, i.vxlan, i.ports, i.fdbEntries]),
      // Node 2's pod and gateway MACs, and its flood entry.
      [[instance, vni, bridge, vxlan, 2, 3]],
    );
    const remote = pods.get(n2)!;
    await vxlanFdb(f, n1, "replace", remote.mac, vxlan, NOWHERE_VTEP);
    const out = await run(n1);
    assert.equal(out.code, 1, out.stderr);
    assert.deepEqual(
      (JSON.parse(out.stdout) as NodeCheckReport).findings.map((
        x,
      ) => [x.kind, x.mac, x.ip, x.vtep, x.device, x.vni]),
      [["fdb_wrong_vtep", remote.mac, remote.ip, NOWHERE_VTEP, vxlan, vni]],
    );
  } finally {
    await fabric?.teardown();
  }
});
