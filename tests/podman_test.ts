/**
 * podman (Debian 4.3, CNI backend) runs busybox containers on a real two-node fabric (GoBGP
 * reflector, stock bagpipe-bgp) through config/10-bagpipe.conflist, installed with
 * `bagpipe-cni install`: containers ping across nodes, stop/rm releases everything, `--ip`
 * re-creates a container on the same address, and a failed ADD (daemon down) reaches podman with
 * our message and is rolled back. Nothing is left behind (tests/helpers/podman.ts).
 */
import assert from "node:assert/strict";
import { instanceIdFor } from "../lib/cni/config.ts";
import { type Fabric, type FabricNode, startFabric } from "../lib/fabric/fabric.ts";
import { busyboxRootfs, PODMAN_NETWORK, PodmanNode } from "./helpers/podman.ts";

/** Each node's share of the conflist's 10.27.0.0/16. */
const podCidr = (node: FabricNode) => `10.27.${node.index}.0/24`;

Deno.test("podman runs containers on the fabric through the installed plugin", async (t) => {
  let fabric: Fabric | undefined;
  const nodes: PodmanNode[] = [];
  try {
    fabric = await startFabric({ nodes: 2, readyTimeoutMs: 120000 });
    const f = fabric;
    const { tar } = await busyboxRootfs(f.workDir);
    nodes.push(
      ...await Promise.all(
        f.nodes.map((n) => PodmanNode.start(n, `${f.workDir}/podman-n${n.index}`, podCidr(n), tar)),
      ),
    );
    const [p1, p2] = nodes as [PodmanNode, PodmanNode];
    const version = await p1.podman(["version", "--format", "{{.Client.Version}}"]);
    console.log(`podman ${version.stdout.trim()}`);

    let aIp = "";
    await t.step("containers on both nodes ping each other", async () => {
      const a = await p1.runContainer("a");
      assert.equal(a.code, 0, `podman run a: ${a.stderr}`);
      const b = await p2.runContainer("b");
      assert.equal(b.code, 0, `podman run b: ${b.stderr}`);
      aIp = await p1.address("a");
      const bIp = await p2.address("b");
      assert.match(aIp, /^10\.27\.1\./, "node1's range");
      assert.match(bIp, /^10\.27\.2\./, "node2's range");
      assert.ok(await p1.pingUntil("a", bIp), `a (${aIp}) on node1 cannot reach b (${bIp})`);
      assert.ok(await p2.pingUntil("b", aIp, 5000), "and back");

      // podman's name reached the record, the log and the daemon (CNI_ARGS K8S_POD_NAME).
      const id = await p1.id("a");
      const [record] = p1.records();
      assert.equal(record?.containerId, id);
      assert.deepEqual(record?.pod, { name: "a" });
      const added = p1.logLines().find((l) => l.msg === "added" && l.containerId === id);
      assert.equal(added?.pod, "a", "the ADD log line names the container");
      const instance = instanceIdFor(PODMAN_NETWORK);
      const ports = await f.api(p1.node, "GET", `/looking-glass/vpns/instances/${instance}/ports`);
      assert.ok(ports.text.includes(`"a ${id}/eth0"`), `endpoint description: ${ports.text}`);
    });

    await t.step("stop and rm run DEL: lease, veth, record and netns pin released", async () => {
      const id = await p1.id("a");
      assert.equal((await p1.podman(["stop", "--time", "1", "a"])).code, 0);
      const rm = await p1.podman(["rm", "a"]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.deepEqual(p1.leases(), []);
      assert.deepEqual(p1.records(), []);
      assert.deepEqual(await p1.hostVeths(), []);
      assert.deepEqual(await p1.netnsPins(), []);
      const commands = p1.logLines().filter((l) => l.containerId === id && l.msg === "done")
        .map((l) => l.command);
      assert.ok(commands.includes("DEL"), `DEL ran for a: ${commands.join(", ")}`);
      assert.ok(await p2.pingUntil("b", aIp, 3000) === false, "a no longer answers");
    });

    await t.step("--ip re-creates a container on the same address, reachable again", async () => {
      const again = await p1.runContainer("a2", ["--ip", aIp]);
      assert.equal(again.code, 0, `podman run --ip ${aIp}: ${again.stderr}`);
      assert.equal(await p1.address("a2"), aIp);
      assert.ok(await p2.pingUntil("b", aIp), `b cannot reach the re-created ${aIp}`);
      assert.ok(await p1.pingUntil("a2", await p2.address("b"), 5000), "and back");
    });

    await t.step(
      "a requested MAC other than the derived one is refused and rolled back",
      async () => {
        const before = p1.leases();
        const refused = await p1.runContainer("m", ["--mac-address", "02:00:00:00:00:01"]);
        assert.notEqual(refused.code, 0);
        assert.match(
          refused.stderr,
          /plugin type="bagpipe" failed \(add\): .*requested MAC 02:00:00:00:00:01/,
        );
        assert.match(refused.stderr, /bug B1/);
        assert.deepEqual(p1.leases(), before, "the lease was released");
        assert.equal((await p1.podman(["rm", "--force", "m"])).code, 0);
      },
    );

    await t.step("a failed ADD (daemon down) reaches podman and is rolled back", async () => {
      const before = { leases: p1.leases(), veths: await p1.hostVeths() };
      await f.stopDaemon(p1.node);
      const failed = await p1.runContainer("down");
      console.log(`podman run with the daemon down: exit ${failed.code}: ${failed.stderr.trim()}`);
      assert.notEqual(failed.code, 0);
      assert.match(failed.stderr, /plugin type="bagpipe" failed \(add\)/);
      assert.match(
        failed.stderr,
        /failed to ping the daemon \(GET http:\/\/127\.0\.0\.1:8082\/ping\)/,
      );
      const reasons = failed.stderr.match(/Connection refused/g) ?? [];
      assert.equal(reasons.length, 1, "the daemon's reason is shown once");
      const id = await p1.id("down");
      const error = p1.logLines().find((l) => l.containerId === id && l.level === "error");
      assert.equal(error?.code, 11, "try again later: the daemon is unreachable");
      const del = p1.logLines().find((l) =>
        l.command === "DEL" && l.msg === "done" && l.containerId === id
      );
      assert.ok(del, "podman ran DEL after the failed ADD");
      assert.deepEqual(p1.leases(), before.leases, "no lease left");
      assert.deepEqual(await p1.hostVeths(), before.veths, "no veth left");
      assert.equal(p1.records().length, 1, "only a2's record");
      assert.equal((await p1.podman(["rm", "--force", "down"])).code, 0);
      await f.startDaemon(p1.node);
      await f.waitEstablished(p1.node);
      // The restarted daemon forgot a2 (it keeps nothing); the next ADD re-attaches it.
      const c = await p1.runContainer("c");
      assert.equal(c.code, 0, `podman run c after the daemon restart: ${c.stderr}`);
      assert.ok(await p2.pingUntil("b", await p1.address("c")), "b reaches c");
      assert.ok(await p2.pingUntil("b", aIp), "b reaches a2 again (re-attached)");
    });

    await t.step("rm of the rest leaves nothing on either node", async () => {
      for (const p of nodes) {
        const rm = await p.podman(["rm", "--all", "--force", "--time", "0"]);
        assert.equal(rm.code, 0, rm.stderr);
        assert.deepEqual(p.leases(), [], `${p.node.name} leases`);
        assert.deepEqual(p.records(), [], `${p.node.name} records`);
        assert.deepEqual(await p.hostVeths(), [], `${p.node.name} veths`);
        assert.deepEqual(await p.netnsPins(), [], `${p.node.name} netns pins`);
      }
      // What podman sent, as the plugin logged it (config/README.md): ADD and DEL only.
      const done = nodes.flatMap((p) => p.logLines()).filter((l) => l.msg === "done");
      for (const l of done) console.log(`SENT podman ${l.command} ${JSON.stringify(l.sent)}`);
      assert.deepEqual([...new Set(done.map((l) => l.command))].sort(), ["ADD", "DEL"]);
      const withIp = done.find((l) => (l.sent as { cniArgs: { IP?: string } }).cniArgs.IP);
      assert.ok(withIp, "--ip arrives as CNI_ARGS IP=");
    });
  } finally {
    const problems: string[] = [];
    for (const p of nodes) problems.push(...await p.teardown());
    await fabric?.teardown();
    for (const p of nodes) problems.push(...p.ns.leftovers(p.cgroupParent));
    assert.deepEqual(problems, [], "teardown left something behind");
  }
});
