/**
 * kubelet's path: Debian's containerd 1.6 with its CRI plugin runs pod sandboxes on a real
 * two-node fabric (GoBGP reflector, stock bagpipe-bgp) through config/10-bagpipe.conflist,
 * installed with `bagpipe-cni install`, driven by our CRI client the way kubelet drives it:
 * RunPodSandbox → the pod's netns has our interface and address → cross-node ping →
 * StopPodSandbox (DEL) → RemovePodSandbox (DEL again). Nothing is left behind.
 */
import assert from "node:assert/strict";
import { instanceIdFor } from "../lib/cni/config.ts";
import { type Fabric, type FabricNode, startFabric } from "../lib/fabric/fabric.ts";
import { podMacFor } from "../lib/net/names.ts";
import { ContainerdNode, type Sandbox, sandboxImageTar } from "./helpers/containerd.ts";
import { busyboxRootfs, PODMAN_NETWORK } from "./helpers/podman.ts";

/** Each node's share of the conflist's 10.27.0.0/16. */
const podCidr = (node: FabricNode) => `10.27.${node.index}.0/24`;

Deno.test("containerd's CRI runs pod sandboxes on the fabric through the installed plugin", async (t) => {
  let fabric: Fabric | undefined;
  const nodes: ContainerdNode[] = [];
  try {
    fabric = await startFabric({ nodes: 2, readyTimeoutMs: 120000 });
    const f = fabric;
    const { tar: rootfsTar } = await busyboxRootfs(f.workDir);
    const image = await sandboxImageTar(rootfsTar, f.workDir);
    nodes.push(
      ...await Promise.all(
        f.nodes.map((n) =>
          ContainerdNode.start(n, `${f.workDir}/containerd-n${n.index}`, podCidr(n), image)
        ),
      ),
    );
    const [c1, c2] = nodes as [ContainerdNode, ContainerdNode];
    console.log(`CRI runtime: ${JSON.stringify(await c1.cri("Version", { version: "v1" }))}`);

    const pods: { node: ContainerdNode; sandbox: Sandbox; ip: string; pid: number }[] = [];
    await t.step("RunPodSandbox: the pod's netns has our interface and address", async () => {
      for (const [node, name] of [[c1, "web-1"], [c2, "web-2"]] as const) {
        const sandbox = await node.runPodSandbox(name, "shop");
        const { ip, pid, netns } = await node.status(sandbox);
        assert.match(ip, new RegExp(`^10\\.27\\.${node.node.index}\\.`), `${name}'s address`);
        assert.match(netns, /^\/var\/run\/netns\/cni-/, "containerd's netns pin");
        const link = await node.inPod(pid, ["ip", "-j", "addr", "show", "eth0"]);
        const [eth0] = JSON.parse(link.stdout) as {
          address: string;
          mtu: number;
          addr_info: { local: string }[];
        }[];
        assert.equal(eth0?.address, podMacFor(ip), "the MAC derived from the address");
        assert.equal(eth0?.mtu, 1450);
        assert.ok(eth0?.addr_info.some((a) => a.local === ip), `eth0 has ${ip}`);

        // kubelet's CNI_ARGS reached the record, the log lines and the daemon.
        const record = node.records().find((r) => r.containerId === sandbox.id);
        assert.deepEqual(record?.pod, {
          namespace: "shop",
          name,
          uid: sandbox.uid,
          infraContainerId: sandbox.id,
        });
        const added = node.logLines().find((l) =>
          l.msg === "added" && l.containerId === sandbox.id
        );
        assert.equal(added?.pod, `shop/${name}`);
        const ports = await f.api(
          node.node,
          "GET",
          `/looking-glass/vpns/instances/${instanceIdFor(PODMAN_NETWORK)}/ports`,
        );
        assert.ok(
          ports.text.includes(`"shop/${name} ${sandbox.id}/eth0"`),
          `endpoint description: ${ports.text}`,
        );
        pods.push({ node, sandbox, ip, pid });
      }
    });

    await t.step("sandboxes on the two nodes ping each other", async () => {
      const [a, b] = pods as [typeof pods[0], typeof pods[0]];
      assert.ok(await a.node.pingUntil(a.pid, b.ip), `${a.ip} on node1 cannot reach ${b.ip}`);
      assert.ok(await b.node.pingUntil(b.pid, a.ip, 5000), "and back");
    });

    await t.step("StopPodSandbox runs DEL; RemovePodSandbox too; nothing is left", async () => {
      for (const { node, sandbox } of pods) {
        await node.stop(sandbox);
        assert.deepEqual(node.leases(), [], `${node.node.name}: lease released at stop`);
        assert.deepEqual(node.records(), [], `${node.node.name}: record removed at stop`);
        assert.deepEqual(await node.hostVeths(), [], `${node.node.name}: veth deleted at stop`);
        await node.remove(sandbox);
        const dels = node.logLines().filter((l) =>
          l.containerId === sandbox.id && l.command === "DEL" && l.msg === "done"
        );
        assert.equal(dels.length, 2, "DEL at StopPodSandbox and again at RemovePodSandbox");
        assert.deepEqual(await node.listSandboxes(), []);
        assert.deepEqual(await node.netnsPins(), [], `${node.node.name}: netns pin removed`);
      }
      // What containerd sent, as the plugin logged it (config/README.md): ADD and DEL only; the
      // second DEL (RemovePodSandbox) has neither netns nor prevResult.
      const done = nodes.flatMap((n) => n.logLines()).filter((l) => l.msg === "done");
      for (const l of done) console.log(`SENT containerd ${l.command} ${JSON.stringify(l.sent)}`);
      assert.deepEqual([...new Set(done.map((l) => l.command))].sort(), ["ADD", "DEL"]);
      const dels = done.filter((l) => l.command === "DEL").map((l) => l.sent as { netns: string });
      assert.ok(dels.some((d) => d.netns === ""), "a DEL without CNI_NETNS (RemovePodSandbox)");
    });

    await t.step("a failed ADD (daemon down): RunPodSandbox fails with our message", async () => {
      await f.stopDaemon(c2.node);
      const failed = await c2.runPodSandbox("web-down", "shop").then(
        () => "succeeded",
        (e: Error) => e.message,
      );
      console.log(`RunPodSandbox with the daemon down: ${failed}`);
      assert.match(failed, /plugin type="bagpipe" failed \(add\): failed to ping the daemon/);
      const error = c2.logLines().find((l) => l.level === "error" && l.command === "ADD");
      assert.equal(error?.code, 11, "try again later: the daemon is unreachable");
      const del = c2.logLines().find((l) =>
        l.command === "DEL" && l.msg === "done" && l.containerId === error?.containerId
      );
      assert.ok(del, "containerd ran DEL after the failed ADD");
      assert.deepEqual(c2.leases(), [], "no lease left");
      assert.deepEqual(c2.records(), [], "no record left");
      assert.deepEqual(await c2.hostVeths(), [], "no veth left");
      assert.deepEqual(await c2.listSandboxes(), [], "containerd dropped the sandbox");
      assert.deepEqual(await c2.netnsPins(), [], "and its netns");
      await f.startDaemon(c2.node);
      await f.waitEstablished(c2.node);
    });

    await t.step("the same pod again on node1 gets an address and reaches node2", async () => {
      const again = await c1.runPodSandbox("web-1", "shop");
      const { ip, pid } = await c1.status(again);
      const other = await c2.runPodSandbox("web-3", "shop");
      const remote = await c2.status(other);
      assert.ok(await c1.pingUntil(pid, remote.ip), `${ip} cannot reach ${remote.ip}`);
      // Left running: teardown stops and removes them (DEL), as a node drain would.
    });
  } finally {
    const problems: string[] = [];
    for (const n of nodes) {
      problems.push(...await n.teardown());
      if (n.leases().length > 0) problems.push(`${n.node.name}: leases ${n.leases()}`);
      if (n.records().length > 0) problems.push(`${n.node.name}: records left`);
    }
    await fabric?.teardown();
    for (const n of nodes) problems.push(...n.ns.leftovers(n.cgroupParent));
    assert.deepEqual(problems, [], "teardown left something behind");
  }
});
