/**
 * The whole CNI lifecycle, for every supported spec version, with the installed plugin executed
 * as kubelet does and the real host-local IPAM, in namespaces the test creates. What the kernel
 * has inside the pod netns is read back with `ip -json` and held against the result.
 */
import assert from "node:assert/strict";
import { SUPPORTED_VERSIONS } from "../lib/cni/version.ts";
import { ip, ipJson, TestNode } from "./helpers/plugin.ts";

interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
}
interface Link {
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
  operstate: string;
  addr_info: AddrInfo[];
}

Deno.test("ADD → result → kernel state → CHECK → DEL → nothing left, for every spec version", async (t) => {
  const node = await TestNode.create("life");
  try {
    for (const version of SUPPORTED_VERSIONS) {
      await t.step(`cniVersion ${version}`, async () => {
        const netns = await node.addPod();
        const conf = node.config({ cniVersion: version });
        const env = { containerId: `ctr-${version}`, netns, ifname: "eth0" };
        const linksBefore = await node.links();

        const add = await node.exec("ADD", conf, env);
        assert.equal(add.code, 0, add.stdout + add.stderr);
        const result = add.json as {
          cniVersion: string;
          interfaces: { name: string; mac: string; sandbox?: string; mtu?: number }[];
          ips: { address: string; gateway: string; interface: number; version?: string }[];
          routes: { dst: string; gw?: string }[];
        };
        assert.equal(result.cniVersion, version);
        assert.equal(result.interfaces.length, 2);
        const [host, pod] = result.interfaces;
        assert.equal(pod!.name, "eth0");
        assert.equal(pod!.sandbox, netns);
        assert.equal(host!.sandbox, undefined);
        assert.equal(pod!.mtu, version === "1.1.0" ? 1450 : undefined, "mtu is a 1.1.0 field");
        assert.equal(result.ips.length, 1);
        assert.equal(result.ips[0]!.interface, 1);
        assert.equal(result.ips[0]!.gateway, "10.27.0.1");
        assert.equal(result.ips[0]!.version, version.startsWith("0.") ? "4" : undefined);
        assert.deepEqual(result.routes, [{ dst: "0.0.0.0/0", gw: "10.27.0.1" }]);

        // What the kernel really has inside the pod.
        const [link] = await ipJson<Link>(
          "-n",
          netns.split("/").at(-1)!,
          "addr",
          "show",
          "dev",
          "eth0",
        );
        assert.ok(link, "eth0 exists in the pod netns");
        assert.equal(link.address, pod!.mac);
        assert.equal(link.mtu, 1450);
        assert.ok(link.flags.includes("UP"));
        const v4 = link.addr_info.filter((a) => a.family === "inet").map((a) =>
          `${a.local}/${a.prefixlen}`
        );
        assert.deepEqual(v4, [result.ips[0]!.address]);
        const routes = await ipJson<{ dst: string; gateway?: string }>(
          "-n",
          netns.split("/").at(-1)!,
          "route",
          "show",
          "default",
        );
        assert.deepEqual(routes.map((r) => r.gateway), ["10.27.0.1"]);
        const [arpNotify, ...neigh] = (await ip(
          "netns",
          "exec",
          netns.split("/").at(-1)!,
          "sysctl",
          "-n",
          "net.ipv4.conf.eth0.arp_notify",
          "net.ipv4.neigh.eth0.retrans_time_ms",
          "net.ipv4.neigh.eth0.mcast_solicit",
        )).trim().split("\n");
        assert.equal(arpNotify, "1");
        // ARP retried every 100 ms, 30 times (the pod's first contact with a new node).
        assert.deepEqual(neigh, ["100", "30"]);
        // The host end exists in the node, is up, and is the pod end's peer.
        const [hostLink] = await ipJson<Link>("-n", node.netns, "link", "show", "dev", host!.name);
        assert.ok(hostLink!.flags.includes("UP"));
        assert.equal(hostLink!.address, host!.mac);
        assert.equal(hostLink!.mtu, 1450);
        assert.deepEqual(node.leases().length, 1);
        assert.equal(node.records().length, 1);

        const check = await node.exec("CHECK", { ...conf, prevResult: result }, env);
        if (version.startsWith("0.3")) {
          assert.equal(check.code, 1, "CHECK needs 0.4.0 or later");
          assert.equal(check.json?.code, 1);
        } else {
          assert.equal(check.code, 0, check.stdout);
          assert.equal(check.stdout, "", "a successful CHECK prints nothing");
        }

        const del = await node.exec("DEL", conf, env);
        assert.equal(del.code, 0, del.stdout);
        assert.deepEqual(await node.links(), linksBefore);
        assert.deepEqual(node.leases(), []);
        assert.deepEqual(node.records(), []);
        assert.deepEqual(
          await ipJson("-n", netns.split("/").at(-1)!, "link", "show", "dev", "eth0").catch(
            () => [],
          ),
          [],
        );

        const again = await node.exec("DEL", conf, env);
        assert.equal(again.code, 0, "a repeated DEL succeeds");
      });
    }
  } finally {
    await node.destroy();
  }
});

Deno.test("CHECK reports drift: missing address, route, MAC change, host veth gone", async (t) => {
  const node = await TestNode.create("drift");
  try {
    const cases: {
      name: string;
      drift: (podNs: string, hostVeth: string) => Promise<unknown>;
      expect: RegExp;
    }[] = [
      {
        name: "address removed",
        drift: (ns) => ip("-n", ns, "addr", "flush", "dev", "eth0"),
        expect: /address 10\.27\.2\.\d+\/16/,
      },
      {
        name: "default route removed",
        drift: (ns) => ip("-n", ns, "route", "del", "default"),
        expect: /route 0\.0\.0\.0\/0 via 10\.27\.0\.1/,
      },
      {
        name: "MAC changed",
        drift: (ns) => ip("-n", ns, "link", "set", "eth0", "address", "02:00:00:00:00:99"),
        expect: /MAC is 02:00:00:00:00:99/,
      },
      {
        name: "interface down",
        drift: (ns) => ip("-n", ns, "link", "set", "eth0", "down"),
        expect: /down/,
      },
      {
        name: "host veth deleted",
        drift: (_ns, host) => ip("-n", node.netns, "link", "del", host),
        expect: /interface "eth0"|host veth/,
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const netns = await node.addPod();
        const conf = node.config({ cniVersion: "1.0.0" });
        const env = { containerId: `drift-${node.pods.length}`, netns, ifname: "eth0" };
        const add = await node.exec("ADD", conf, env);
        assert.equal(add.code, 0, add.stdout);
        const prevResult = add.json!;
        const hostVeth = (prevResult.interfaces as { name: string }[])[0]!.name;
        assert.equal(
          (await node.exec("CHECK", { ...conf, prevResult }, env)).code,
          0,
          "CHECK passes before the drift",
        );
        await c.drift(netns.split("/").at(-1)!, hostVeth);
        const check = await node.exec("CHECK", { ...conf, prevResult }, env);
        assert.equal(check.code, 1);
        assert.equal(check.json?.code, 102, check.stdout);
        assert.match(`${check.json?.msg} ${check.json?.details}`, c.expect);
        assert.equal((await node.exec("DEL", conf, env)).code, 0);
      });
    }
    assert.deepEqual(node.leases(), []);
    assert.deepEqual(await node.links(), ["lo"]);
  } finally {
    await node.destroy();
  }
});

Deno.test("DEL succeeds and releases everything when the pod netns is already gone", async () => {
  const node = await TestNode.create("gone");
  try {
    const netns = await node.addPod();
    const conf = node.config();
    const env = { containerId: "gone-1", netns, ifname: "eth0" };
    assert.equal((await node.exec("ADD", conf, env)).code, 0);
    await ip("netns", "del", netns.split("/").at(-1)!);
    node.pods.pop();
    const del = await node.exec("DEL", conf, env);
    assert.equal(del.code, 0, del.stdout);
    const delNoNetns = await node.exec("DEL", conf, {
      containerId: "gone-1",
      ifname: "eth0",
      netns: "",
    });
    assert.equal(delNoNetns.code, 0, "DEL without CNI_NETNS succeeds");
    assert.deepEqual(node.leases(), []);
    assert.deepEqual(node.records(), []);
    assert.deepEqual(await node.links(), ["lo"]);
  } finally {
    await node.destroy();
  }
});

Deno.test("DEL without a record finds the host veth through the pod netns", async () => {
  const node = await TestNode.create("norec");
  try {
    const netns = await node.addPod();
    const conf = node.config();
    const env = { containerId: "norec-1", netns, ifname: "eth0" };
    assert.equal((await node.exec("ADD", conf, env)).code, 0);
    await Deno.remove(node.stateDir, { recursive: true });
    assert.equal((await node.exec("DEL", conf, env)).code, 0);
    assert.deepEqual(await node.links(), ["lo"]);
    assert.deepEqual(node.leases(), []);
  } finally {
    await node.destroy();
  }
});

Deno.test("a netns given as /proc/PID/ns/net (not a named one) goes through nsenter end to end", async () => {
  // containerd and CRI-O name their namespaces, but the spec allows any netns path: ip -n takes
  // only names, so this path runs ip under nsenter, and the host end is still made in the node.
  const node = await TestNode.create("procns");
  const named = await node.addPod();
  const holder = new Deno.Command("ip", {
    args: ["netns", "exec", named.split("/").at(-1)!, "sleep", "120"],
  }).spawn();
  try {
    const netns = `/proc/${holder.pid}/ns/net`;
    const inPod = () => Deno.statSync(netns).ino === Deno.statSync(named).ino;
    for (let i = 0; i < 50 && !inPod(); i++) {
      await new Promise((r) => setTimeout(r, 20)); // until the holder has entered the netns
    }
    // Never configure a pod interface in the test's own (root) netns.
    assert.ok(inPod(), "the holder is in the pod netns");
    const conf = node.config();
    const env = { containerId: "procns-1", netns, ifname: "eth0" };
    const add = await node.exec("ADD", conf, env);
    assert.equal(add.code, 0, add.stdout);
    const result = add.json as { ips: { address: string }[]; interfaces: { name: string }[] };
    const [pod] = await ipJson<Link>("-n", named.split("/").at(-1)!, "addr", "show", "dev", "eth0");
    assert.ok(pod?.flags.includes("UP"));
    assert.deepEqual(
      pod!.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
      [result.ips[0]!.address],
    );
    assert.ok((await node.links()).includes(result.interfaces[0]!.name), "host end in the node");
    assert.equal((await node.exec("DEL", conf, env)).code, 0);
    assert.deepEqual(await node.links(), ["lo"]);
    assert.deepEqual(node.leases(), []);
  } finally {
    holder.kill();
    await holder.status;
    await node.destroy();
  }
});

const TUNING = "/usr/lib/cni/tuning";

Deno.test("a conflist chain: bagpipe then tuning, prevResult handed on, CHECK and DEL in reverse", async () => {
  const node = await TestNode.create("chain");
  try {
    const netns = await node.addPod();
    const env = { containerId: "chain-1", netns, ifname: "eth0" };
    const ours = node.config({ cniVersion: "1.0.0" });
    const tuning = {
      cniVersion: "1.0.0",
      name: "testnet",
      type: "tuning",
      sysctl: { "net.ipv4.conf.eth0.accept_redirects": "0" },
    };

    const add1 = await node.exec("ADD", ours, env);
    assert.equal(add1.code, 0, add1.stdout);
    const add2 = await node.exec("ADD", { ...tuning, prevResult: add1.json }, env, TUNING);
    assert.equal(add2.code, 0, add2.stdout + add2.stderr);
    const final = add2.json!;
    assert.deepEqual((final.ips as unknown[]).length, 1, "tuning hands our result on");

    // libcni's CHECK gives every plugin of the chain the final result.
    const check1 = await node.exec("CHECK", { ...ours, prevResult: final }, env);
    assert.equal(check1.code, 0, check1.stdout);
    const check2 = await node.exec("CHECK", { ...tuning, prevResult: final }, env, TUNING);
    assert.equal(check2.code, 0, check2.stdout);

    assert.equal((await node.exec("DEL", { ...tuning, prevResult: final }, env, TUNING)).code, 0);
    assert.equal((await node.exec("DEL", { ...ours, prevResult: final }, env)).code, 0);
    assert.deepEqual(await node.links(), ["lo"]);
    assert.deepEqual(node.leases(), []);
  } finally {
    await node.destroy();
  }
});

Deno.test("as a chained plugin, ADD extends the previous plugin's result", async () => {
  const node = await TestNode.create("prev");
  try {
    const netns = await node.addPod();
    const env = { containerId: "prev-1", netns, ifname: "eth0" };
    const prevResult = {
      cniVersion: "1.0.0",
      interfaces: [{ name: "lo0", sandbox: netns }],
      ips: [{ address: "192.0.2.9/32", interface: 0 }],
      dns: { nameservers: ["192.0.2.53"] },
    };
    const add = await node.exec(
      "ADD",
      { ...node.config({ cniVersion: "1.0.0" }), prevResult },
      env,
    );
    assert.equal(add.code, 0, add.stdout);
    const r = add.json as {
      interfaces: { name: string }[];
      ips: { address: string; interface: number }[];
      dns: unknown;
    };
    assert.deepEqual(r.interfaces.map((i) => i.name).slice(0, 1), ["lo0"]);
    assert.equal(r.interfaces.length, 3);
    assert.equal(r.ips[0]!.address, "192.0.2.9/32");
    assert.equal(
      r.ips[1]!.interface,
      2,
      "our address points at our pod interface after the previous ones",
    );
    assert.deepEqual(r.dns, { nameservers: ["192.0.2.53"] });
    assert.equal((await node.exec("DEL", node.config({ cniVersion: "1.0.0" }), env)).code, 0);
  } finally {
    await node.destroy();
  }
});

Deno.test("16 concurrent ADDs then 16 concurrent DELs on one node do not interfere", async () => {
  const node = await TestNode.create("par");
  try {
    const conf = node.config();
    const pods = await Promise.all(Array.from({ length: 16 }, () => node.addPod()));
    const adds = await Promise.all(
      pods.map((netns, i) =>
        node.exec("ADD", conf, { containerId: `par-${i}`, netns, ifname: "eth0" })
      ),
    );
    for (const add of adds) assert.equal(add.code, 0, add.stdout + add.stderr);
    const addresses = adds.map((a) => (a.json!.ips as { address: string }[])[0]!.address);
    assert.equal(new Set(addresses).size, 16, "every pod has its own address");
    assert.equal(node.leases().length, 16);
    assert.equal((await node.links()).length, 17);
    const dels = await Promise.all(
      pods.map((netns, i) =>
        node.exec("DEL", conf, { containerId: `par-${i}`, netns, ifname: "eth0" })
      ),
    );
    for (const del of dels) assert.equal(del.code, 0, del.stdout);
    assert.deepEqual(node.leases(), []);
    assert.deepEqual(await node.links(), ["lo"]);
    assert.deepEqual(node.records(), []);
  } finally {
    await node.destroy();
  }
});
