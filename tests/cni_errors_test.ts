/**
 * Bad input through the installed executable: the error JSON on stdout carries the right code and
 * names what is wrong, the exit status is non-zero, and nothing on the node changes.
 */
import assert from "node:assert/strict";
import { execPlugin, TestNode } from "./helpers/plugin.ts";

Deno.test("bad environment or config gives a CNI error with the right code and changes nothing", async (t) => {
  const node = await TestNode.create("err");
  try {
    const netns = await node.addPod();
    const good = node.config();
    const base = {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "err-1",
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_PATH: node.cniPath,
    };
    const cases: {
      name: string;
      env: Record<string, string>;
      stdin: unknown;
      code: number;
      msg: RegExp;
    }[] = [
      {
        name: "no CNI_COMMAND is the CLI, not the plugin",
        env: {},
        stdin: good,
        code: -1,
        msg: /./,
      },
      {
        name: "unknown command",
        env: { ...base, CNI_COMMAND: "FROB" },
        stdin: good,
        code: 4,
        msg: /unknown CNI_COMMAND "FROB"/,
      },
      {
        name: "all missing variables named in one error",
        env: { CNI_COMMAND: "ADD" },
        stdin: good,
        code: 4,
        msg: /\[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH\] missing/,
      },
      {
        name: "DEL does not need CNI_NETNS",
        env: { CNI_COMMAND: "DEL", CNI_PATH: node.cniPath },
        stdin: good,
        code: 4,
        msg: /\[CNI_CONTAINERID,CNI_IFNAME\] missing/,
      },
      {
        name: "invalid container ID",
        env: { ...base, CNI_CONTAINERID: "-bad id" },
        stdin: good,
        code: 4,
        msg: /invalid CNI_CONTAINERID/,
      },
      {
        name: "interface name too long",
        env: { ...base, CNI_IFNAME: "eth0123456789012" },
        stdin: good,
        code: 4,
        msg: /invalid CNI_IFNAME/,
      },
      {
        name: "interface name with a slash",
        env: { ...base, CNI_IFNAME: "eth/0" },
        stdin: good,
        code: 4,
        msg: /invalid CNI_IFNAME/,
      },
      {
        name: "netns that does not exist",
        env: { ...base, CNI_NETNS: "/run/netns/bcni-none-xyz" },
        stdin: good,
        code: 4,
        msg: /does not exist/,
      },
      {
        name: "stdin is not JSON",
        env: base,
        stdin: "{nope",
        code: 6,
        msg: /failed to decode network configuration/,
      },
      { name: "stdin is a JSON list", env: base, stdin: "[]", code: 6, msg: /failed to decode/ },
      {
        name: "unsupported version",
        env: base,
        stdin: { ...good, cniVersion: "0.2.0" },
        code: 1,
        msg: /incompatible CNI versions/,
      },
      {
        name: "future version",
        env: base,
        stdin: { ...good, cniVersion: "2.0.0" },
        code: 1,
        msg: /incompatible CNI versions/,
      },
      {
        name: "GC needs 1.1.0",
        env: { ...base, CNI_COMMAND: "GC" },
        stdin: { ...good, cniVersion: "1.0.0" },
        code: 1,
        msg: /does not allow GC/,
      },
      {
        name: "STATUS needs 1.1.0",
        env: { ...base, CNI_COMMAND: "STATUS" },
        stdin: { ...good, cniVersion: "0.4.0" },
        code: 1,
        msg: /does not allow STATUS/,
      },
      {
        name: "bad route target",
        env: base,
        stdin: { ...good, importrt: "64512" },
        code: 7,
        msg: /importrt: each route target must be ASN:NN/,
      },
      {
        name: "MTU too small",
        env: base,
        stdin: { ...good, mtu: 100 },
        code: 7,
        msg: /mtu: must be at least 576/,
      },
      {
        name: "instance id too long",
        env: base,
        stdin: { ...good, vpnInstanceId: "waytoolongid" },
        code: 7,
        msg: /vpnInstanceId: must be 1-8/,
      },
      {
        name: "VNI out of range",
        env: base,
        stdin: { ...good, vni: 16777216 },
        code: 7,
        msg: /vni: must be an integer 1\.\.16777215/,
      },
      {
        name: "missing ipam",
        env: base,
        stdin: { ...good, ipam: undefined },
        code: 7,
        msg: /ipam: expected object \(missing\)/,
      },
      {
        name: "no vni with the bagpipe backend",
        env: base,
        stdin: { ...good, backend: "bagpipe", vni: undefined },
        code: 7,
        msg: /vni: is required/,
      },
      {
        name: "IPAM plugin not on CNI_PATH",
        env: base,
        stdin: { ...good, ipam: { type: "nosuch" } },
        code: 103,
        msg: /failed to find plugin "nosuch"/,
      },
    ];
    const leases = node.leases(), links = await node.links();
    for (const c of cases) {
      await t.step(c.name, async () => {
        const out = await execPlugin(node.netns, node.plugin, c.env, c.stdin);
        if (c.code === -1) {
          assert.equal(out.code, 2, "without CNI_COMMAND the CLI prints help and exits 2");
          assert.match(out.stdout, /bagpipe-cni/);
          return;
        }
        assert.equal(out.code, 1, out.stdout + out.stderr);
        assert.equal(out.json?.code, c.code, out.stdout);
        assert.match(String(out.json?.msg), c.msg);
        assert.equal(typeof out.json?.cniVersion, "string");
        assert.doesNotMatch(out.stdout, /\n\s+at /, "no stack trace");
        assert.deepEqual(node.leases(), leases);
        assert.deepEqual(await node.links(), links);
      });
    }
    await t.step("VERSION lists every supported version", async () => {
      const out = await execPlugin(node.netns, node.plugin, { CNI_COMMAND: "VERSION" }, "");
      assert.equal(out.code, 0);
      assert.deepEqual(out.json, {
        cniVersion: "1.1.0",
        supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
      });
    });
  } finally {
    await node.destroy();
  }
});
