/**
 * End to end on a real fabric: a GoBGP route reflector and two nodes running the stock Debian
 * bagpipe-bgp (only the modprobe work-around of this kernel), pods made by executing the
 * installed plugin inside each node netns as kubelet would. Connectivity is asserted with bounded
 * retries; convergence times are printed, never asserted.
 */
import assert from "node:assert/strict";
import { type Fabric, type FabricNode, startFabric } from "../lib/fabric/fabric.ts";
import { listNetns } from "../lib/fabric/netns.ts";
import { Cluster, type Network } from "./helpers/cluster.ts";

const blue: Network = {
  name: "blue",
  instance: "blue",
  rt: "64512:100",
  prefix: "10.27",
  vni: 100,
};
const red: Network = { name: "red", instance: "red", rt: "64512:200", prefix: "10.28", vni: 200 };
// One address per node, so a new pod must reuse the deleted pod's address.
const green: Network = {
  name: "green",
  instance: "green",
  rt: "64512:300",
  prefix: "10.29",
  vni: 300,
  range: [10, 10],
};
// The shipped defaults (isGateway and ipMasq on): the Kubernetes network model.
const gw: Network = { name: "gw", instance: "gw", rt: "64512:400", prefix: "10.30", vni: 400 };

function converged(scenario: string, ms: number | undefined): void {
  console.log(
    `CONVERGE ${scenario} ${
      ms === undefined ? "timeout" : `${ms} ms`
    } (ADD returned → remote ping answered)`,
  );
}

/** The VXLAN attributes of a device in a node (ip -d -json), with its master. */
async function vxlanInfo(
  f: Fabric,
  netns: string,
  dev: string,
): Promise<Record<string, unknown> | undefined> {
  const out = await f.exec(netns, ["ip", "-d", "-json", "link", "show", dev]);
  if (out.code !== 0) return undefined;
  const [link] = JSON.parse(out.stdout) as {
    master?: string;
    linkinfo?: { info_data?: Record<string, unknown> };
  }[];
  return { ...link?.linkinfo?.info_data, master: link?.master };
}

/** Pings from a node's own netns (where kubelet probes from) until answered, at most 15 s. */
async function nodePingUntil(f: Fabric, netns: string, to: string): Promise<boolean> {
  const deadline = performance.now() + 15000;
  while (performance.now() < deadline) {
    if ((await f.exec(netns, ["ping", "-c", "1", "-W", "1", to])).code === 0) return true;
  }
  return false;
}

/** SIGKILLs a node's bagpipe-bgp (found among the fabric's processes by its config file). */
async function killDaemon(f: Fabric, node: FabricNode): Promise<void> {
  for (const pid of await f.pids()) {
    let cmdline = "";
    try {
      cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (cmdline.includes("bagpipe-bgp") && cmdline.includes(node.configFile)) {
      Deno.kill(pid, "SIGKILL");
      return;
    }
  }
  throw new Error(`no bagpipe-bgp process of ${node.name} found`);
}

Deno.test("EVPN fabric end to end with the stock bagpipe-bgp", async (t) => {
  let fabric: Fabric | undefined;
  let id = "";
  try {
    fabric = await startFabric({ nodes: 2, readyTimeoutMs: 180000 });
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
        const redOnNode2 = await f.exec(n2.name, ["bridge", "fdb", "show", "dev", "bpvx-blue"]);
        assert.ok(
          !redOnNode2.stdout.includes(r1.mac),
          "blue's VXLAN has no fdb entry for a red MAC",
        );
        // Each network has a bridge and a VXLAN device of its own, with its own VNI.
        for (const [net, vni] of [["blue", 100], ["red", 200]] as const) {
          const vx = await vxlanInfo(f, n1.name, `bpvx-${net}`);
          assert.equal(vx?.id, vni, `bpvx-${net} carries VNI ${vni}`);
          assert.equal(vx?.master, `bpbr-${net}`);
        }
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
      "6. the node's gateway: node ↔ local and remote pods, pods → node and off-network, Service NAT",
      async () => {
        // kube-proxy's Service NAT must see replies bridged between two pods of one node even
        // where the node's global bridge-nf-call-iptables is 0: the bridge's own flag does it.
        await f.exec(n1.name, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"]);
        const p1 = await cluster.addPod(n1, gw);
        const p2 = await cluster.addPod(n2, gw);
        const first = await cluster.pingUntil(p1, p2.ip);
        converged("gateway-network-first-pods", first);
        assert.ok(first !== undefined, "gw pods reach each other");
        const later = await cluster.addPod(n2, gw);
        const contact = await cluster.pingUntil(p1, later.ip);
        // The plugin's VXLAN device has no `proxy`: the first ARP floods to the other VTEP.
        console.log(`FIRST-CONTACT later pod on node2 ← node1 pod: ${contact ?? "timeout"} ms`);
        assert.ok(contact !== undefined);

        for (
          const [node, pod, where] of [[n1, p1, "local"], [n1, p2, "remote"], [
            n2,
            p1,
            "remote",
          ]] as const
        ) {
          assert.ok(
            await nodePingUntil(f, node.name, pod.ip),
            `${node.name} (kubelet's netns) reaches the ${where} pod ${pod.ip}`,
          );
        }
        assert.ok(
          await cluster.pingUntil(p1, cluster.gatewayOf(n1, gw)) !== undefined,
          "pod → its node's gateway",
        );
        assert.ok(await cluster.pingUntil(p1, n1.underlayIp) !== undefined, "pod → its node");
        // Off the pod network: node1's underlay address, from a pod on node2, masqueraded by node2.
        assert.ok(await cluster.pingUntil(p2, n1.underlayIp) !== undefined, "pod → another node");
        const masq = await f.exec(n2.name, [
          "iptables",
          "-t",
          "nat",
          "-L",
          "BPCNI-MASQ-gw",
          "-v",
          "-x",
          "-n",
        ]);
        const masqLine = masq.stdout.split("\n").find((l) => l.includes("MASQUERADE"));
        assert.ok(
          masqLine && Number(masqLine.trim().split(/\s+/)[0]) > 0,
          `masqueraded:\n${masq.stdout}`,
        );

        // A "Service": DNAT to a pod on the same bridge; the reply comes back bridged.
        const backend = await cluster.addPod(n1, gw);
        await f.exec(n1.name, [
          "iptables",
          "-t",
          "nat",
          "-A",
          "PREROUTING",
          "-d",
          "10.96.0.10/32",
          "-p",
          "icmp",
          "-j",
          "DNAT",
          "--to-destination",
          backend.ip,
        ]);
        assert.equal(
          (await f.exec(n1.name, ["cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"])).stdout
            .trim(),
          "0",
        );
        assert.ok(
          await cluster.pingUntil(p1, "10.96.0.10", 5000) !== undefined,
          "pod → Service → pod on the same node (per-bridge nf_call_iptables)",
        );
        // Hairpin: a pod through a "Service" to itself, masqueraded as kube-proxy does (its
        // KUBE-MARK-MASQ for a source that is the endpoint). br_netfilter bridges a DNATed packet
        // whose route leads back into the same bridge, so it leaves by the port it came in by:
        // the pod's port is in hairpin mode for that.
        await f.exec(n1.name, [
          "iptables",
          "-t",
          "nat",
          "-A",
          "PREROUTING",
          "-d",
          "10.96.0.11/32",
          "-p",
          "icmp",
          "-j",
          "DNAT",
          "--to-destination",
          p1.ip,
        ]);
        await f.exec(n1.name, [
          "iptables",
          "-t",
          "nat",
          "-I",
          "POSTROUTING",
          "-s",
          `${p1.ip}/32`,
          "-d",
          `${p1.ip}/32`,
          "-j",
          "MASQUERADE",
        ]);
        assert.ok(
          await cluster.pingUntil(p1, "10.96.0.11", 5000) !== undefined,
          "pod → Service → itself (hairpin)",
        );

        // The plugin-owned layout (README, "Kubernetes network model").
        const mac = (await f.exec(n1.name, ["cat", "/sys/class/net/bpbr-gw/address"])).stdout
          .trim();
        assert.equal(mac, "0a:58:0a:1e:01:01", "bridge MAC = 0a:58: + the node gateway's IPv4");
        const vx = await vxlanInfo(f, n1.name, "bpvx-gw");
        assert.equal(vx?.proxy, undefined, "no proxy on the VXLAN device");
        assert.equal(vx?.learning, false);
        assert.equal(vx?.local, n1.underlayIp);
        assert.equal(
          (await f.exec(n1.name, ["cat", "/sys/class/net/bpbr-gw/bridge/nf_call_iptables"])).stdout
            .trim(),
          "1",
        );
        assert.equal(
          (await f.exec(n1.name, ["cat", "/proc/sys/net/ipv4/ip_forward"])).stdout.trim(),
          "1",
        );
        const ports = await f.api(n1, "GET", "/looking-glass/vpns/instances/gw/ports");
        assert.match(
          JSON.stringify(ports.body),
          /"bpbr-gw":\{"endpoints":\[\{[^}]*"ip_address":"10\.30\.1\.1\/32"/,
        );
        const fdb = await f.exec(n2.name, ["bridge", "fdb", "show", "dev", "bpvx-gw"]);
        assert.match(
          fdb.stdout,
          new RegExp(`${mac} dst ${n1.underlayIp}`),
          "node2 knows node1's gateway",
        );
        for (const pod of [p1, p2]) assert.equal((await cluster.check(pod)).code, 0);
      },
    );

    await t.step(
      "6b. SIGKILL of node2's daemon: the devices survive, the pods come back after resync",
      async () => {
        const p1 = cluster.pods.find((p) => p.network === gw && p.node === n1)!;
        const p2 = cluster.pods.find((p) => p.network === gw && p.node === n2)!;
        await killDaemon(f, n2);
        await f.stopDaemon(n2); // reaps the killed daemon and its privsep helper
        const killedAt = performance.now();
        await f.startDaemon(n2);
        await f.waitEstablished(n2, 60000);
        for (const dev of ["bpbr-gw", "bpvx-gw"]) {
          assert.equal(
            (await f.exec(n2.name, ["ip", "link", "show", dev])).code,
            0,
            `${dev} survived`,
          );
        }
        const master = await f.exec(n2.name, [
          "cat",
          `/sys/class/net/${p2.hostVeth}/master/uevent`,
        ]);
        assert.match(master.stdout, /INTERFACE=bpbr-gw/, "the pod's veth is still plugged");
        const addr = await f.exec(n2.name, ["ip", "-4", "addr", "show", "dev", "bpbr-gw"]);
        assert.match(addr.stdout, /10\.30\.2\.1\/16/, "the gateway address survived");
        const resync = await cluster.resync(n2);
        assert.equal(resync.code, 0, resync.stdout + resync.stderr);
        const back = await cluster.pingUntil(p1, p2.ip, 30000);
        console.log(
          `RESTART pod back ${back ?? "timeout"} ms after resync (${
            Math.round(performance.now() - killedAt)
          } ms after the restart began)`,
        );
        assert.ok(back !== undefined, "pod on node2 reachable again");
        assert.ok(await nodePingUntil(f, n1.name, p2.ip), "node1 reaches node2's pod again");
        const ports = await f.api(n2, "GET", "/looking-glass/vpns/instances/gw/ports");
        assert.match(
          JSON.stringify(ports.body),
          /10\.30\.2\.1\/32/,
          "resync re-attached the gateway",
        );
      },
    );

    await t.step(
      "6c. DEL of a network's last pod on a node leaves its infrastructure",
      async () => {
        const p2 = cluster.pods.find((p) => p.network === gw && p.node === n2)!;
        for (const p of cluster.pods.filter((p) => p.network === gw && p.node === n1)) {
          await cluster.delPod(p);
        }
        for (const dev of ["bpbr-gw", "bpvx-gw"]) {
          assert.equal(
            (await f.exec(n1.name, ["ip", "link", "show", dev])).code,
            0,
            `${dev} stays`,
          );
        }
        const masq = await f.exec(n1.name, ["iptables", "-t", "nat", "-S", "BPCNI-MASQ-gw"]);
        assert.equal(masq.code, 0, "the masquerade chain stays");
        assert.ok(await nodePingUntil(f, n1.name, p2.ip), "node1 still reaches node2's pod");
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
