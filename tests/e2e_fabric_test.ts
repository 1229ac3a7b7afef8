/**
 * End to end on a real fabric: a GoBGP route reflector and two nodes running the stock Debian
 * bagpipe-bgp (only the modprobe work-around of this kernel), pods made by executing the
 * installed plugin inside each node netns as kubelet would. Connectivity is asserted with bounded
 * retries; convergence times are printed, never asserted.
 */
import assert from "node:assert/strict";
import { type Fabric, startFabric } from "../lib/fabric/fabric.ts";
import { listNetns } from "../lib/fabric/netns.ts";
import { Cluster, type Network } from "./helpers/cluster.ts";

const blue: Network = { name: "blue", instance: "blue", rt: "64512:100", prefix: "10.27" };
const red: Network = { name: "red", instance: "red", rt: "64512:200", prefix: "10.28" };
// One address per node, so a new pod must reuse the deleted pod's address.
const green: Network = {
  name: "green",
  instance: "green",
  rt: "64512:300",
  prefix: "10.29",
  range: [10, 10],
};
const gw: Network = {
  name: "gw",
  instance: "gw",
  rt: "64512:400",
  prefix: "10.30",
  isGateway: true,
};

function converged(scenario: string, ms: number | undefined): void {
  console.log(
    `CONVERGE ${scenario} ${
      ms === undefined ? "timeout" : `${ms} ms`
    } (ADD returned → remote ping answered)`,
  );
}

Deno.test("EVPN fabric end to end with the stock bagpipe-bgp", async (t) => {
  let fabric: Fabric | undefined;
  let id = "";
  try {
    fabric = await startFabric({ nodes: 2 });
    id = fabric.id;
    const f = fabric;
    const [n1, n2] = f.nodes as [typeof f.nodes[0], typeof f.nodes[0]];
    const cluster = await Cluster.create(f);

    await t.step("1. a pod on node1 pings a pod on node2 and back", async () => {
      const a = await cluster.addPod(n1, blue);
      const b = await cluster.addPod(n2, blue);
      const ms = await cluster.pingUntil(a, b.ip);
      converged("first-pods-of-instance", ms);
      assert.ok(ms !== undefined, `pod ${a.ip} on node1 cannot reach ${b.ip} on node2`);
      assert.ok(await cluster.ping(b, a.ip), "and back");
      for (const pod of [a, b]) {
        const check = await cluster.check(pod);
        assert.equal(check.code, 0, `CHECK of ${pod.containerId}: ${check.stdout}`);
      }
    });

    await t.step(
      "2. several pods per node all reach each other; another network's pods do not",
      async () => {
        const more = [await cluster.addPod(n1, blue), await cluster.addPod(n2, blue)];
        const since = performance.now();
        converged(
          "later-pod",
          await cluster.pingUntil(cluster.pods[0]!, more[1]!.ip, 15000, since),
        );
        const blues = cluster.pods.filter((p) => p.network === blue);
        assert.equal(blues.length, 4);
        for (const from of blues) {
          for (const to of blues) {
            if (from !== to) {
              assert.ok(
                await cluster.pingUntil(from, to.ip, 5000) !== undefined,
                `${from.ip} → ${to.ip}`,
              );
            }
          }
        }
        // Another network with other route targets, on the same nodes: isolated from blue.
        const r1 = await cluster.addPod(n1, red);
        const r2 = await cluster.addPod(n2, red);
        assert.ok(await cluster.pingUntil(r1, r2.ip) !== undefined, "red pods reach each other");
        const blueOnNode2 = blues.find((p) => p.node === n2)!;
        // red's subnet differs, so route explicitly at blue's address through red's interface.
        await f.exec(r1.netns, ["ip", "route", "add", `${blueOnNode2.ip}/32`, "dev", "eth0"]);
        assert.equal(await cluster.ping(r1, blueOnNode2.ip), false, "red must not reach blue");
        const redOnNode2 = await f.exec(n2.name, ["bridge", "fdb", "show", "dev", "vxlan--blue"]);
        assert.ok(
          !redOnNode2.stdout.includes(r1.mac),
          "blue's VXLAN has no fdb entry for a red MAC",
        );
      },
    );

    await t.step(
      "3. delete/re-add reusing the IP, and the last pod of a network on a node",
      async () => {
        const g1 = await cluster.addPod(n1, green);
        const g2 = await cluster.addPod(n2, green);
        assert.ok(await cluster.pingUntil(g2, g1.ip) !== undefined, "green pods reach each other");
        for (let round = 1; round <= 3; round++) {
          // g1 is the only green pod on node1: deleting it empties the instance there.
          const old = cluster.pods.find((p) => p.network === green && p.node === n1)!;
          await cluster.delPod(old);
          assert.equal(await cluster.ping(g2, old.ip), false, "a deleted pod no longer answers");
          const again = await cluster.addPod(n1, green);
          assert.equal(again.ip, old.ip, "the only address in the range is reused");
          const ms = await cluster.pingUntil(g2, again.ip);
          converged(`reused-ip-round-${round}`, ms);
          assert.ok(
            ms !== undefined,
            `round ${round}: the new pod with the reused IP is unreachable`,
          );
        }
        // Remove every blue pod of node2, then add one again (new address).
        for (
          const p of cluster.pods.filter((p) => p.network === blue && p.node === n2)
        ) await cluster.delPod(p);
        const b = await cluster.addPod(n2, blue);
        const ms = await cluster.pingUntil(
          cluster.pods.find((p) => p.network === blue && p.node === n1)!,
          b.ip,
        );
        converged("last-pod-removed-then-added", ms);
        assert.ok(
          ms !== undefined,
          "a pod added after the node's last one was removed is reachable",
        );
      },
    );

    await t.step(
      "4. restart node2's daemon: resync restores connectivity without recreating pods",
      async () => {
        const a = cluster.pods.find((p) => p.network === blue && p.node === n1)!;
        const b = cluster.pods.find((p) => p.network === blue && p.node === n2)!;
        const g = cluster.pods.find((p) => p.network === green && p.node === n2)!;
        const g1 = cluster.pods.find((p) => p.network === green && p.node === n1)!;
        await f.restartDaemon(n2);
        await f.waitEstablished(n2, 30000);
        assert.equal(await cluster.ping(a, b.ip), false, "the restarted daemon lost the pods (H1)");
        const drifted = await cluster.check(b);
        assert.equal(
          drifted.json?.code,
          102,
          `CHECK sees the endpoint missing in the daemon: ${drifted.stdout}`,
        );
        assert.match(String(drifted.json?.msg), /not attached to VPN instance "blue"/);
        const resync = await cluster.resync(n2);
        assert.equal(resync.code, 0, resync.stdout + resync.stderr);
        assert.match(resync.stdout, /re-attached \d+ pod/);
        const since = performance.now();
        const ms = await cluster.pingUntil(a, b.ip, 15000, since);
        converged("after-daemon-restart-resync", ms);
        assert.ok(ms !== undefined, "blue pod on node2 reachable again after resync");
        assert.equal((await cluster.check(b)).code, 0, "CHECK passes again after resync");
        assert.ok(
          await cluster.pingUntil(g1, g.ip, 5000) !== undefined,
          "green pod on node2 reachable again",
        );
        // A second resync has nothing to do.
        const again = await cluster.resync(n2);
        assert.match(again.stdout, /up to date/);

        // node1's daemon restarts; the next ADD on node1 notices and re-attaches the old pods.
        await f.restartDaemon(n1);
        await f.waitEstablished(n1, 30000);
        await cluster.addPod(n1, red);
        const ms2 = await cluster.pingUntil(b, a.ip, 15000);
        converged("after-daemon-restart-add-triggered", ms2);
        assert.ok(
          ms2 !== undefined,
          "node1's old blue pod reachable after an ADD triggered the resync",
        );
      },
    );

    await t.step(
      "5. STATUS follows the daemon and its BGP session; GC removes a leaked attachment",
      async () => {
        const status = () => cluster.exec(n1, "STATUS", cluster.config(n1, blue));
        const waitStatus = async (code: number) => {
          // bagpipe-bgp retries a failed session every 20-30 s: allow two retries.
          const deadline = performance.now() + 70000;
          for (;;) {
            const s = await status();
            const got = s.code === 0 ? 0 : Number(s.json?.code);
            if (got === code || performance.now() > deadline) return s;
            await new Promise((r) => setTimeout(r, 500));
          }
        };
        assert.equal((await waitStatus(0)).code, 0, "up with an Established peer");
        await f.stopReflector();
        const down = await waitStatus(51);
        assert.equal(down.json?.code, 51, `no Established peer → 51: ${down.stdout}`);
        await f.startReflector();
        await f.waitEstablished(n1, 70000);
        assert.equal((await waitStatus(0)).code, 0, "peer back → 0");
        await f.stopDaemon(n1);
        const dead = await status();
        assert.equal(dead.json?.code, 50, `daemon down → 50: ${dead.stdout}`);
        await f.startDaemon(n1);
        await f.waitEstablished(n1, 30000);
        assert.equal(
          (await waitStatus(0)).code,
          0,
          "daemon back → 0 (and STATUS re-attached the pods)",
        );
        const a = cluster.pods.find((p) => p.network === blue && p.node === n1)!;
        const b = cluster.pods.find((p) => p.network === blue && p.node === n2)!;
        assert.ok(
          await cluster.pingUntil(b, a.ip) !== undefined,
          "pods on node1 reachable after STATUS-triggered resync",
        );

        // GC: a pod whose runtime forgot it (no DEL) is withdrawn and released.
        const leaked = await cluster.addPod(n1, blue);
        const ms = await cluster.pingUntil(b, leaked.ip);
        converged("after-status-resync-new-pod", ms);
        assert.ok(ms !== undefined);
        const valid = cluster.pods.filter((p) =>
          p.node === n1 && p.network === blue && p !== leaked
        )
          .map((p) => ({ containerID: p.containerId, ifname: "eth0" }));
        const leasesBefore = cluster.leases(n1).length;
        const gc = await cluster.exec(n1, "GC", {
          ...cluster.config(n1, blue),
          "cni.dev/valid-attachments": valid,
        });
        assert.equal(gc.code, 0, gc.stdout);
        assert.equal(cluster.leases(n1).length, leasesBefore - 1, "the leaked lease is released");
        const link = await f.exec(n1.name, ["ip", "link", "show", leaked.hostVeth]);
        assert.notEqual(link.code, 0, "the leaked veth is deleted");
        assert.equal(
          await cluster.ping(b, leaked.ip),
          false,
          "the leaked pod is no longer reachable",
        );
        assert.ok(await cluster.ping(b, a.ip), "valid pods are untouched");
        cluster.pods.splice(cluster.pods.indexOf(leaked), 1);
        await f.exec(n1.name, ["ip", "netns", "del", leaked.netns.split("/").at(-1)!]);
      },
    );

    await t.step(
      "6. isGateway: the anycast gateway routes a pod to an address only its node has",
      async () => {
        const p1 = await cluster.addPod(n1, gw);
        const p2 = await cluster.addPod(n2, gw);
        const ms = await cluster.pingUntil(p1, p2.ip);
        converged("gateway-network-first-pods", ms);
        assert.ok(ms !== undefined, "gw pods reach each other");
        // An address that exists only inside each node's netns (a veth end with a /32).
        for (const [node, addr] of [[n1, "10.250.0.1"], [n2, "10.250.0.2"]] as const) {
          await f.exec(node.name, [
            "ip",
            "link",
            "add",
            "bcnisvc",
            "type",
            "veth",
            "peer",
            "name",
            "bcnisvcp",
          ]);
          await f.exec(node.name, ["ip", "addr", "add", `${addr}/32`, "dev", "bcnisvc"]);
          await f.exec(node.name, ["ip", "link", "set", "bcnisvc", "up"]);
          await f.exec(node.name, ["ip", "link", "set", "bcnisvcp", "up"]);
        }
        assert.ok(
          await cluster.pingUntil(p1, "10.250.0.1") !== undefined,
          "pod on node1 reaches node1's address",
        );
        assert.ok(
          await cluster.pingUntil(p2, "10.250.0.2") !== undefined,
          "pod on node2 reaches node2's address",
        );
        // Same gateway MAC on both nodes, and the gateway is never advertised as an endpoint.
        const macs = await Promise.all(
          [n1, n2].map((n) => f.exec(n.name, ["cat", "/sys/class/net/evpn---gw/address"])),
        );
        assert.equal(macs[0]!.stdout.trim(), macs[1]!.stdout.trim());
        const neigh = await f.exec(p1.netns, ["ip", "neigh", "show", "10.30.0.1"]);
        assert.match(
          neigh.stdout,
          new RegExp(macs[0]!.stdout.trim()),
          "the pod resolved the anycast MAC",
        );
        const ports = await f.api(n1, "GET", "/looking-glass/vpns/instances/gw/ports");
        assert.ok(
          !JSON.stringify(ports.body).includes("10.30.0.1"),
          "the gateway is not an EVPN endpoint",
        );
      },
    );

    await t.step("7. deleting every pod leaves no lease, veth or record", async () => {
      for (const pod of [...cluster.pods]) await cluster.delPod(pod);
      for (const node of [n1, n2]) {
        assert.deepEqual(cluster.leases(node), [], `${node.name} leases`);
        const links = await f.exec(node.name, ["ip", "-o", "link", "show"]);
        assert.ok(
          !/: bc[0-9a-f]{12}[@:]/.test(links.stdout),
          `${node.name} has no pod veth left:\n${links.stdout}`,
        );
        const records = [...Deno.readDirSync(cluster.stateDir(node))].filter((e) =>
          e.name.includes("@")
        );
        assert.deepEqual(records, []);
      }
    });
  } finally {
    await fabric?.teardown();
  }
  const left = (await listNetns()).filter((n) => id && n.startsWith(id));
  assert.deepEqual(left, [], "every namespace of the fabric is gone");
  assert.deepEqual(
    fabric ? await fabric.pids() : [],
    [],
    "every process the fabric started is gone",
  );
});
