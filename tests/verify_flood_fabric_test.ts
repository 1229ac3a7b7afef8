/**
 * verify on a real capture of head-end replication: three stock bagpipe-bgp nodes, pods made by
 * the installed plugin pinging each other, and the fdb entry of a remote pod's MAC deleted on the
 * sender's VXLAN device (what a node has before its route is installed). The sender then floods
 * each ping to every VTEP of the VNI; verify reports that as one `dst_mac_flooded` warning, not as
 * errors for the copies that reached the wrong node, and exits 0.
 */
import { vxlanFdb } from "./helpers/vxlan_fdb.ts";
import assert from "node:assert/strict";
import { type Fabric, type FabricNode, startFabric } from "../lib/fabric/fabric.ts";
import { decodeCapture, type VerifyReport } from "../wasm/mod.ts";
import { Cluster, type Network } from "./helpers/cluster.ts";

const COMMAND = new URL("../lib/verify/command.ts", import.meta.url).pathname;
const net: Network = { name: "fld", instance: "fld", rt: "64512:520", prefix: "10.52", vni: 520 };

Deno.test({
  name: "verify on a real fabric: a node without the fdb entry of a remote MAC floods, a warning",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    let fabric: Fabric | undefined;
    const workDir = await Deno.makeTempDir({ prefix: "bcni-flood-" });
    const pcap = `${workDir}/fabric.pcap`;
    try {
      // Captured from before the daemons start: verify knows every route from its session's SYN.
      fabric = await startFabric({
        nodes: 3,
        workDir,
        captureAtStart: { file: pcap },
        readyTimeoutMs: 180_000,
      });
      const f = fabric;
      const [n1, n2, n3] = f.nodes as [FabricNode, FabricNode, FabricNode];
      const cluster = await Cluster.create(f);
      const p1 = await cluster.addPod(n1, net);
      const p2 = await cluster.addPod(n2, net);
      const p3 = await cluster.addPod(n3, net);
      for (const [from, to] of [[p1, p2], [p1, p3], [p2, p3]] as const) {
        assert.ok(await cluster.pingUntil(from, to.ip, 60_000) !== undefined, "pods reach");
      }
      const vxlan = `bpvx-${net.instance}`;
      const fdb = await f.exec(n1.name, ["bridge", "fdb", "show", "dev", vxlan]);
      const entry = fdb.stdout.split("\n").find((l) =>
        l.startsWith(`${p2.mac} `) && l.includes(`dst ${n2.underlayIp}`)
      );
      assert.ok(entry, `n1 has p2's fdb entry on ${vxlan}:\n${fdb.stdout}`);
      // Without it (p1's neighbour cache still holds p2's MAC) n1 floods p1's pings to p2 to
      // the flood list: n2 and n3 (the all-zeros entries stay).
      await vxlanFdb(f, n1, "del", p2.mac, vxlan);
      let answered = 0;
      for (let i = 0; i < 3; i++) answered += await cluster.ping(p1, p2.ip) ? 1 : 0;
      assert.ok(answered > 0, "flooded pings still reach p2");
      await vxlanFdb(f, n1, "replace", p2.mac, vxlan, n2.underlayIp);
      assert.ok(await cluster.ping(p1, p2.ip), "unicast again once the entry is back");
      await f.initialCapture!.stop();

      using file = await Deno.open(pcap);
      const { report } = await decodeCapture(file);
      const r: VerifyReport = report;
      const problems = r.findings.filter((x) => x.severity !== "info").map((x) =>
        `${x.severity} ${x.kind} ${x.src_vtep} -> ${x.dst_vtep} ${x.src_mac} -> ${x.dst_mac} ` +
        JSON.stringify(x.detail)
      ).join("\n");
      assert.deepEqual(r.findings.filter((x) => x.severity === "error"), [], problems);
      const flood = r.findings.find((x) =>
        x.kind === "dst_mac_flooded" && x.src_vtep === n1.underlayIp && x.dst_mac === p2.mac
      );
      assert.ok(flood, `n1's flooding of p2's MAC is reported:\n${problems}`);
      assert.equal(flood.severity, "warning");
      assert.deepEqual([flood.src_mac, flood.other_vtep, flood.dst_vtep], [
        p1.mac,
        n2.underlayIp,
        null,
      ]);
      assert.deepEqual([flood.detail.advertised_vtep_reached, flood.detail.vteps_reached], [
        true,
        2,
      ]);
      assert.deepEqual(
        String(flood.detail.vteps).split(", ").sort(),
        [n2.underlayIp, n3.underlayIp].sort(),
      );
      assert.ok(flood.count >= 3, `every flooded ping request counted: ${flood.count}`);
      assert.equal(flood.detail.copies, flood.count * 2, "one copy to each of n2 and n3");
      // The copies to n3 are flows of their own that no error names.
      assert.ok(r.flows.some((x) => x.dst_vtep === n3.underlayIp && x.dst_mac === p2.mac));

      const cli = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", COMMAND, pcap],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(cli.stdout);
      assert.equal(cli.code, 0, text + new TextDecoder().decode(cli.stderr));
      assert.match(text, /WARNING dst_mac_flooded/);
      assert.match(text, /no fdb entry/);
    } finally {
      await fabric?.teardown();
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
    }
  },
});
