/**
 * Rollback: a failure at each step of ADD undoes every earlier step, and the error the operator
 * sees is the original one. Every failure here is a real one the step meets (no injection hooks):
 * the leases, links and records are counted before and after.
 */
import assert from "node:assert/strict";
import { ip, TestNode } from "./helpers/plugin.ts";

interface FailureCase {
  name: string;
  /** Prepares the failure; returns the config to ADD with. */
  arrange: (node: TestNode, podNs: string) => Promise<Record<string, unknown>>;
  code: number;
  msg: RegExp;
}

const cases: FailureCase[] = [
  {
    name: "IPAM fails (range exhausted): nothing was created",
    arrange: async (node, podNs) => {
      const conf = node.config({}, { rangeStart: "10.27.9.1", rangeEnd: "10.27.9.1" });
      const first = await node.exec("ADD", conf, {
        containerId: "holder",
        netns: podNs,
        ifname: "eth9",
      });
      assert.equal(first.code, 0, first.stdout);
      return conf;
    },
    code: 999,
    msg: /plugin host-local ADD failed: .*no IP addresses available/,
  },
  {
    name: "veth creation fails (the pod already has eth0): the lease is released",
    arrange: async (node, podNs) => {
      await ip(
        "-n",
        podNs.split("/").at(-1)!,
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0peer",
      );
      return node.config();
    },
    code: 100,
    msg: /failed to set up "eth0" .*"link add bc\S+ .* type veth peer name eth0 .*": .*File exists/,
  },
  {
    name: "pod addressing fails (IPAM route via an unreachable gateway): veth and lease undone",
    arrange: (node) =>
      Promise.resolve(node.config({}, { routes: [{ dst: "192.0.2.0/24", gw: "198.51.100.1" }] })),
    code: 100,
    msg: /route add 192\.0\.2\.0\/24 via 198\.51\.100\.1.*Nexthop has invalid gateway/,
  },
  {
    name: "state record cannot be written (state dir under a file): veth and lease undone",
    arrange: async (node) => {
      await Deno.writeTextFile(`${node.dir}/not-a-dir`, "");
      return node.config({ stateDir: `${node.dir}/not-a-dir/state` });
    },
    code: 5,
    msg: /failed to write attachment record .*not-a-dir/,
  },
  {
    name: "the daemon is unreachable at attach: code 11, everything undone",
    arrange: (node) =>
      Promise.resolve(
        node.config({
          backend: "bagpipe",
          vni: 90,
          bagpipeUrl: "http://127.0.0.1:1",
          bagpipeTimeoutMs: 2000,
        }),
      ),
    code: 11,
    msg: /daemon unreachable/,
  },
];

Deno.test("a failure at each ADD step leaves no lease, link or record behind", async (t) => {
  const node = await TestNode.create("rb");
  try {
    for (const c of cases) {
      await t.step(c.name, async () => {
        const podNs = await node.addPod();
        const conf = await c.arrange(node, podNs);
        const leases = node.leases(), links = await node.links(), records = node.records();
        const podLinks = await ip("-n", podNs.split("/").at(-1)!, "-br", "link");

        const add = await node.exec("ADD", conf, {
          containerId: "victim",
          netns: podNs,
          ifname: "eth0",
        });
        assert.notEqual(add.code, 0);
        assert.equal(add.json?.code, c.code, add.stdout);
        assert.match(String(add.json?.msg), c.msg);
        assert.doesNotMatch(add.stdout, /\n\s+at /, "no stack trace on stdout");

        assert.deepEqual(node.leases(), leases, "leases unchanged");
        assert.deepEqual(await node.links(), links, "node links unchanged");
        assert.deepEqual(node.records(), records, "records unchanged");
        assert.equal(
          await ip("-n", podNs.split("/").at(-1)!, "-br", "link"),
          podLinks,
          "pod links unchanged",
        );
      });
    }
  } finally {
    await node.destroy();
  }
});
