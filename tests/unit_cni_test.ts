/** Unit tests of the pure CNI pieces: config, versions, environment, results, names, errors. */
import assert from "node:assert/strict";
import { instanceIdFor, parseNetConf } from "../lib/cni/config.ts";
import { isRouteTarget } from "../lib/bagpipe/requests.ts";
import { parseCniArgs, readCniEnv } from "../lib/cni/env.ts";
import { CniError, toCniError, wrap } from "../lib/cni/errors.ts";
import { formatResult, parseResult, type Result } from "../lib/cni/result.ts";
import { compareVersions, negotiateVersion, requireVersionFor } from "../lib/cni/version.ts";
import { delegateVersion } from "../lib/cni/delegate.ts";
import { bridgeNameFor, hostVethFor, podMacFor, vxlanNameFor } from "../lib/net/names.ts";
import { batchFailure } from "../lib/net/veth.ts";
import { ipIn, netnsName } from "../lib/net/netns.ts";
import { podRoutes } from "../lib/plugin/add.ts";
import { masqueradeChainFor, subnetOf } from "../lib/net/masquerade.ts";

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof CniError ? e.code : -1;
  }
}

const base = {
  cniVersion: "1.1.0",
  name: "net1",
  type: "bagpipe",
  importrt: "64512:90",
  exportrt: "64512:90",
  vni: 90,
  ipam: { type: "host-local" },
};

Deno.test({
  name: "parseNetConf() accepts good configs and fills defaults",
  permissions: "none",
  fn: async (t) => {
    const cases: {
      name: string;
      conf: Record<string, unknown>;
      check: (c: ReturnType<typeof parseNetConf>) => void;
    }[] = [
      {
        name: "the seed's config",
        conf: { ...base, mtu: 1500, isGateway: false, ipMasq: false },
        check: (c) => {
          assert.deepEqual(c.importrt, ["64512:90"]);
          assert.equal(c.mtu, 1500);
          assert.equal(c.bagpipeUrl, "http://127.0.0.1:8082");
          assert.equal(c.vpnInstanceId, "net1");
          assert.equal(c.backend, "bagpipe");
          assert.equal(c.stateDir, "/var/lib/cni/bagpipe");
        },
      },
      {
        name: "the Kubernetes network model by default: gateway and masquerade on",
        conf: base,
        check: (c) => {
          assert.equal(c.isGateway, true);
          assert.equal(c.ipMasq, true);
          assert.deepEqual(c.nonMasqueradeCidrs, []);
        },
      },
      {
        name: "isGateway false (L2 only) and ipMasq false stay explicit choices",
        conf: { ...base, isGateway: false, ipMasq: false, nonMasqueradeCidrs: ["10.96.0.0/12"] },
        check: (c) => {
          assert.equal(c.isGateway, false);
          assert.equal(c.ipMasq, false);
          assert.deepEqual(c.nonMasqueradeCidrs, ["10.96.0.0/12"]);
        },
      },
      {
        name: "no vni is fine without a fabric (backend none)",
        conf: { ...base, vni: undefined, backend: "none" },
        check: (c) => assert.equal(c.vni, undefined),
      },
      {
        name: "defaults MTU to 1450 (VXLAN on a 1500 underlay)",
        conf: base,
        check: (c) => assert.equal(c.mtu, 1450),
      },
      {
        name: "route targets as a list",
        conf: { ...base, importrt: ["64512:1", "4200000000:7"] },
        check: (c) => assert.deepEqual(c.importrt, ["64512:1", "4200000000:7"]),
      },
      {
        name: "route targets comma-separated",
        conf: { ...base, exportrt: "64512:1, 64512:2" },
        check: (c) => assert.deepEqual(c.exportrt, ["64512:1", "64512:2"]),
      },
      {
        name: "unknown keys are kept",
        conf: { ...base, something: 1 },
        check: (c) => assert.equal((c as Record<string, unknown>).something, 1),
      },
      {
        name: "runtimeConfig, args, prevResult accepted",
        conf: {
          ...base,
          runtimeConfig: { portMappings: [] },
          args: { cni: {} },
          prevResult: { ips: [] },
        },
        check: (c) => assert.ok(c.runtimeConfig),
      },
      {
        name: "explicit instance id",
        conf: { ...base, vpnInstanceId: "blue-1" },
        check: (c) => assert.equal(c.vpnInstanceId, "blue-1"),
      },
      { name: "forced VNI", conf: { ...base, vni: 5000 }, check: (c) => assert.equal(c.vni, 5000) },
      {
        name: "readvertise",
        conf: { ...base, readvertise: { fromRt: "64512:1", toRt: ["64512:2"] } },
        check: (c) => assert.deepEqual(c.readvertise, { fromRt: ["64512:1"], toRt: ["64512:2"] }),
      },
    ];
    for (const c of cases) {
      await t.step(c.name, () => c.check(parseNetConf(JSON.stringify(c.conf))));
    }
  },
});

Deno.test({
  name: "parseNetConf() rejects malformed configs with the code and the field",
  permissions: "none",
  fn: async (t) => {
    const cases: { name: string; conf: unknown; code: number; msg: RegExp }[] = [
      { name: "not JSON", conf: "{", code: 6, msg: /decode/ },
      { name: "null", conf: null, code: 6, msg: /not a JSON object/ },
      { name: "a JSON string", conf: '"x"', code: 6, msg: /not a JSON object/ },
      {
        name: "no name",
        conf: { ...base, name: undefined },
        code: 7,
        msg: /name: expected string/,
      },
      { name: "bad name", conf: { ...base, name: "-x" }, code: 7, msg: /name: must start/ },
      { name: "no importrt", conf: { ...base, importrt: undefined }, code: 7, msg: /importrt/ },
      {
        name: "empty route target list",
        conf: { ...base, exportrt: [] },
        code: 7,
        msg: /exportrt: needs at least one/,
      },
      {
        name: "route target without NN",
        conf: { ...base, importrt: "64512" },
        code: 7,
        msg: /importrt: each route target/,
      },
      {
        name: "4-byte ASN with a 4-byte NN",
        conf: { ...base, importrt: "4200000000:70000" },
        code: 7,
        msg: /importrt/,
      },
      {
        name: "route target IPv4 octet > 255",
        conf: { ...base, importrt: "300.1.1.1:5" },
        code: 7,
        msg: /importrt/,
      },
      {
        name: "an IPv4:NN route target (bagpipe-bgp 17 cannot parse it)",
        conf: { ...base, exportrt: ["64512:90", "192.0.2.1:7"] },
        code: 7,
        msg: /exportrt: each route target must be ASN:NN .*reads no IPv4:NN/,
      },
      {
        name: "route target as a number",
        conf: { ...base, importrt: 5 },
        code: 7,
        msg: /importrt: has the wrong type/,
      },
      { name: "mtu not an integer", conf: { ...base, mtu: 1450.5 }, code: 7, msg: /mtu/ },
      {
        name: "mtu as a string",
        conf: { ...base, mtu: "1450" },
        code: 7,
        msg: /mtu: expected number/,
      },
      {
        name: "mtu too large",
        conf: { ...base, mtu: 70000 },
        code: 7,
        msg: /mtu: must be at most 65535/,
      },
      {
        name: "isGateway not a boolean",
        conf: { ...base, isGateway: "yes" },
        code: 7,
        msg: /isGateway: expected boolean/,
      },
      { name: "ipam without type", conf: { ...base, ipam: {} }, code: 7, msg: /ipam\.type/ },
      {
        name: "ipam type empty",
        conf: { ...base, ipam: { type: "" } },
        code: 7,
        msg: /ipam\.type: names the IPAM plugin/,
      },
      {
        name: "unknown backend",
        conf: { ...base, backend: "calico" },
        code: 7,
        msg: /backend: must be one of "bagpipe", "none"/,
      },
      {
        name: "bagpipeUrl not http",
        conf: { ...base, bagpipeUrl: "ftp://x" },
        code: 7,
        msg: /bagpipeUrl: must be http/,
      },
      {
        name: "instance id with a space",
        conf: { ...base, vpnInstanceId: "a b" },
        code: 7,
        msg: /vpnInstanceId/,
      },
      {
        name: "VNI zero",
        conf: { ...base, vni: 0 },
        code: 7,
        msg: /vni: must be an integer 1\.\.16777215/,
      },
      {
        name: "stateDir relative",
        conf: { ...base, stateDir: "state" },
        code: 7,
        msg: /stateDir: must be an absolute path/,
      },
      {
        name: "logFile relative",
        conf: { ...base, logFile: "x.log" },
        code: 7,
        msg: /logFile: must be an absolute path/,
      },
      {
        name: "readvertise without toRt",
        conf: { ...base, readvertise: { fromRt: "64512:1" } },
        code: 7,
        msg: /readvertise\.toRt/,
      },
      {
        name: "several problems at once",
        conf: { ...base, mtu: 1, vni: -1 },
        code: 7,
        msg: /mtu.*; vni/,
      },
      {
        name: "no vni: the plugin's VXLAN device needs the forced one",
        conf: { ...base, vni: undefined },
        code: 7,
        msg: /vni: is required: the plugin's VXLAN device carries this VNI/,
      },
      {
        name: "a non-masquerade CIDR that is not one",
        conf: { ...base, nonMasqueradeCidrs: ["10.96.0.0/33"] },
        code: 7,
        msg: /nonMasqueradeCidrs: "10\.96\.0\.0\/33" is not a\.b\.c\.d\/len/,
      },
      {
        name: "advertiseSubnet true",
        conf: { ...base, advertiseSubnet: true },
        code: 2,
        msg: /advertiseSubnet/,
      },
    ];
    for (const c of cases) {
      await t.step(c.name, () => {
        try {
          parseNetConf(typeof c.conf === "string" ? c.conf : JSON.stringify(c.conf));
          assert.fail("expected an error");
        } catch (e) {
          assert.ok(e instanceof CniError, String(e));
          assert.equal(e.code, c.code, e.message);
          assert.match(e.message + (e.details ?? ""), c.msg);
        }
      });
    }
  },
});

Deno.test({
  name: "isRouteTarget() follows the 2- and 4-byte ASN layouts, the only ones bagpipe-bgp 17 reads",
  permissions: "none",
  fn: () => {
    for (
      const ok of [
        "64512:90",
        "0:0",
        "65535:4294967295",
        "65536:65535",
        "4294967295:1",
      ]
    ) assert.ok(isRouteTarget(ok), ok);
    for (
      const bad of [
        "",
        "64512",
        ":1",
        "1:",
        "a:b",
        "65535:4294967296",
        "65536:65536",
        "4294967296:1",
        "192.0.2.1:7", // IPv4:NN: the daemon's int(asn) refuses it
        "064512:90", // leading zeros: not how the daemon writes them back
        "1.2.3:4",
        " 1:2",
      ]
    ) {
      assert.ok(!isRouteTarget(bad), bad);
    }
  },
});

Deno.test({
  name: "instanceIdFor() keeps short names and hashes long ones into 8 characters",
  permissions: "none",
  fn: () => {
    assert.equal(instanceIdFor("blue"), "blue");
    assert.equal(instanceIdFor("bagpipe-net").length, 8);
    assert.notEqual(
      instanceIdFor("bagpipe-net-a"),
      instanceIdFor("bagpipe-net-b"),
      "differs where the first characters match",
    );
    assert.equal(instanceIdFor("bagpipe-net"), instanceIdFor("bagpipe-net"), "stable");
    assert.match(instanceIdFor("...."), /^net[0-9a-f]{4}$/);
    assert.match(instanceIdFor("a.b.c"), /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,7}$/);
  },
});

Deno.test({
  name: "negotiateVersion() and requireVersionFor() gate versions and commands",
  permissions: "none",
  fn: () => {
    for (const v of ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
      assert.equal(negotiateVersion(v), v);
    }
    for (const v of [undefined, "", "0.1.0", "0.2.0", "1.2.0", "2.0.0", 1, null]) {
      assert.equal(codeOf(() => negotiateVersion(v)), 1, String(v));
    }
    assert.equal(codeOf(() => requireVersionFor("CHECK", "0.3.1")), 1);
    assert.equal(codeOf(() => requireVersionFor("CHECK", "0.4.0")), undefined);
    assert.equal(codeOf(() => requireVersionFor("GC", "1.0.0")), 1);
    assert.equal(codeOf(() => requireVersionFor("STATUS", "1.1.0")), undefined);
    assert.equal(codeOf(() => requireVersionFor("ADD", "0.3.0")), undefined);
    assert.ok(compareVersions("1.10.0", "1.9.0") > 0);
    assert.equal(delegateVersion("1.1.0"), "1.0.0");
    assert.equal(delegateVersion("0.4.0"), "0.4.0");
  },
});

Deno.test({
  name: "readCniEnv() validates like libcni's skel",
  permissions: "none",
  fn: async (t) => {
    const good = {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "abc",
      CNI_NETNS: "/run/netns/x",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/a:/b",
    };
    const env = readCniEnv((k) => (good as Record<string, string>)[k]);
    assert.deepEqual(env.path, ["/a", "/b"]);
    const cases: { name: string; vars: Record<string, string>; code: number | undefined }[] = [
      { name: "good", vars: good, code: undefined },
      { name: "VERSION needs nothing else", vars: { CNI_COMMAND: "VERSION" }, code: undefined },
      {
        name: "STATUS needs CNI_PATH only",
        vars: { CNI_COMMAND: "STATUS", CNI_PATH: "/x" },
        code: undefined,
      },
      { name: "GC without CNI_PATH", vars: { CNI_COMMAND: "GC" }, code: 4 },
      { name: "lower-case command", vars: { ...good, CNI_COMMAND: "add" }, code: 4 },
      { name: "empty container ID", vars: { ...good, CNI_CONTAINERID: "" }, code: 4 },
      { name: "container ID with a slash", vars: { ...good, CNI_CONTAINERID: "a/b" }, code: 4 },
      { name: "ifname '.'", vars: { ...good, CNI_IFNAME: "." }, code: 4 },
      { name: "ifname with a colon", vars: { ...good, CNI_IFNAME: "eth:0" }, code: 4 },
      { name: "ifname with a space", vars: { ...good, CNI_IFNAME: "eth 0" }, code: 4 },
      {
        name: "ifname of 15 bytes is fine",
        vars: { ...good, CNI_IFNAME: "a23456789012345" },
        code: undefined,
      },
      { name: "ifname of 16 bytes", vars: { ...good, CNI_IFNAME: "a234567890123456" }, code: 4 },
      { name: "CNI_ARGS without '='", vars: { ...good, CNI_ARGS: "K8S_POD_NAME" }, code: 4 },
    ];
    for (const c of cases) {
      await t.step(c.name, () => assert.equal(codeOf(() => readCniEnv((k) => c.vars[k])), c.code));
    }
    assert.deepEqual(parseCniArgs("IgnoreUnknown=1;K8S_POD_NAME=web;;X=a=b"), {
      IgnoreUnknown: "1",
      K8S_POD_NAME: "web",
      X: "a=b",
    });
  },
});

Deno.test({
  name: "formatResult() renders each version's shape; parseResult() reads them back",
  permissions: "none",
  fn: async (t) => {
    const result: Result = {
      interfaces: [{ name: "bc1", mac: "aa:bb:cc:dd:ee:ff" }, {
        name: "eth0",
        mac: "0a:58:0a:1b:02:01",
        mtu: 1450,
        sandbox: "/run/netns/p",
      }],
      ips: [{ address: "10.27.2.1/16", gateway: "10.27.0.1", interface: 1 }, {
        address: "fd00::5/64",
        interface: 1,
      }],
      routes: [{ dst: "0.0.0.0/0", gw: "10.27.0.1" }],
      dns: { nameservers: ["10.0.0.10"] },
    };
    for (const version of ["0.3.0", "0.3.1", "0.4.0"] as const) {
      await t.step(`${version} adds the IP version`, () => {
        const out = formatResult(result, version) as {
          ips: { version: string }[];
          interfaces: { mtu?: number }[];
        };
        assert.deepEqual(out.ips.map((i) => i.version), ["4", "6"]);
        assert.equal(out.interfaces[1]!.mtu, undefined);
        assert.deepEqual(parseResult(out, "r"), {
          ...result,
          interfaces: [result.interfaces[0]!, {
            name: "eth0",
            mac: "0a:58:0a:1b:02:01",
            sandbox: "/run/netns/p",
          }],
        });
      });
    }
    await t.step("1.0.0 has no IP version and no interface mtu", () => {
      const out = formatResult(result, "1.0.0") as {
        ips: { version?: string }[];
        interfaces: { mtu?: number }[];
      };
      assert.equal(out.ips[0]!.version, undefined);
      assert.equal(out.interfaces[1]!.mtu, undefined);
    });
    await t.step("1.1.0 carries the interface mtu", () => {
      const out = formatResult(result, "1.1.0") as {
        interfaces: { mtu?: number }[];
        cniVersion: string;
      };
      assert.equal(out.interfaces[1]!.mtu, 1450);
      assert.equal(out.cniVersion, "1.1.0");
      assert.deepEqual(parseResult(out, "r"), result);
    });
    await t.step("malformed results are decode errors (code 6)", () => {
      for (
        const bad of [null, [], "x", { ips: "x" }, { ips: [{ address: "10.0.0.1" }] }, {
          interfaces: [{}],
        }, { routes: [{ gw: "1.1.1.1" }] }]
      ) {
        assert.equal(codeOf(() => parseResult(bad, "r")), 6, JSON.stringify(bad));
      }
    });
  },
});

Deno.test({
  name: "podRoutes() fills gateways and adds a default route per family",
  permissions: "none",
  fn: () => {
    const ipam = (routes: { dst: string; gw?: string }[]): Result => ({
      interfaces: [],
      ips: [{ address: "10.27.2.1/16", gateway: "10.27.0.1" }, {
        address: "fd00::2/64",
        gateway: "fd00::1",
      }],
      routes,
      dns: {},
    });
    assert.deepEqual(podRoutes(ipam([])), [{ dst: "0.0.0.0/0", gw: "10.27.0.1" }, {
      dst: "::/0",
      gw: "fd00::1",
    }]);
    assert.deepEqual(podRoutes(ipam([{ dst: "0.0.0.0/0", gw: "10.27.0.254" }])), [
      { dst: "0.0.0.0/0", gw: "10.27.0.254" },
      { dst: "::/0", gw: "fd00::1" },
    ]);
    assert.deepEqual(podRoutes(ipam([{ dst: "192.0.2.0/24" }]))[0], {
      dst: "192.0.2.0/24",
      gw: "10.27.0.1",
    });
    assert.deepEqual(
      podRoutes({ interfaces: [], ips: [{ address: "10.1.0.5/24" }], routes: [], dns: {} }),
      [],
      "no gateway, no default route",
    );
  },
});

Deno.test({
  name: "names: MAC and host veth follow the address; devices fit 15 characters",
  permissions: "none",
  fn: () => {
    assert.equal(podMacFor("10.27.2.1/16"), "0a:58:0a:1b:02:01");
    assert.match(podMacFor("fd00::5/64"), /^0a:58(:[0-9a-f]{2}){4}$/);
    assert.equal(
      hostVethFor("net1", "10.27.2.1/16"),
      hostVethFor("net1", "10.27.2.1/24"),
      "same address, same port",
    );
    assert.notEqual(
      hostVethFor("net1", "10.27.2.1/16"),
      hostVethFor("net2", "10.27.2.1/16"),
      "instances apart",
    );
    assert.ok(hostVethFor("net1", "10.27.2.1/16").length <= 15);
    // Not evpn---*/vxlan--*: bagpipe-bgp deletes those when it restarts.
    assert.equal(bridgeNameFor("abcdefgh"), "bpbr-abcdefgh");
    assert.equal(vxlanNameFor("abcdefgh"), "bpvx-abcdefgh");
    assert.ok(masqueradeChainFor("abcdefgh").length <= 28, "iptables chain name limit");
    assert.equal(subnetOf("10.27.1.5/16"), "10.27.0.0/16");
    assert.equal(subnetOf("10.27.255.254/23"), "10.27.254.0/23");
    assert.equal(subnetOf("192.168.7.9/32"), "192.168.7.9/32");
    assert.equal(subnetOf("10.1.2.3/0"), "0.0.0.0/0");
  },
});

Deno.test({
  name: "netns helpers: named namespaces use ip -n, paths use nsenter",
  permissions: "none",
  fn: () => {
    assert.equal(netnsName("/run/netns/pod1"), "pod1");
    assert.equal(netnsName("/var/run/netns/pod1"), "pod1");
    assert.equal(netnsName("/proc/42/ns/net"), undefined);
    assert.deepEqual(ipIn("/run/netns/pod1"), ["ip", ["-n", "pod1"]]);
    assert.deepEqual(ipIn("/proc/42/ns/net"), ["nsenter", ["--net=/proc/42/ns/net", "ip"]]);
  },
});

Deno.test({
  name: "batchFailure() names the failing ip batch line and the kernel's reason",
  permissions: "none",
  fn: () => {
    const lines = [
      "addr add 10.0.0.1/24 dev eth0",
      "link set eth0 up",
      "route add 1.2.3.0/24 via 9.9.9.9 dev eth0",
    ];
    assert.equal(
      batchFailure(lines, "Error: Nexthop has invalid gateway.\nCommand failed -:3\n", 1),
      '"route add 1.2.3.0/24 via 9.9.9.9 dev eth0": Error: Nexthop has invalid gateway.',
    );
    assert.equal(batchFailure(lines, "", 2), "ip exited 2");
  },
});

Deno.test({
  name: "errors: untyped failures become 999; wrap() keeps code and details",
  permissions: "none",
  fn: () => {
    assert.equal(toCniError(new Error("boom")).code, 999);
    assert.equal(toCniError("text").code, 999);
    const e = wrap(new CniError(11, "daemon busy", "retry"), 'failed to attach "bc1"');
    assert.equal(e.code, 11);
    assert.equal(e.message, 'failed to attach "bc1": daemon busy');
    assert.equal(e.details, "retry");
  },
});
