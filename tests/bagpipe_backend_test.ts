/**
 * The BaGPipe backend against faults the real daemon cannot be made to produce on demand (slow
 * answers, resets, HTML 500s, garbage), through the Hono fake injected as the client's fetch.
 * What the real daemon does is covered by tests/e2e_fabric_test.ts.
 */
import assert from "node:assert/strict";
import { CniError } from "../lib/cni/errors.ts";
import { execDelegate } from "../lib/cni/delegate.ts";
import { Logger } from "../lib/log.ts";
import { BagpipeBackend } from "../lib/plugin/bagpipe_backend.ts";
import type { CommandContext } from "../lib/plugin/context.ts";
import { cmdDel } from "../lib/plugin/del.ts";
import { parseNetConf } from "../lib/cni/config.ts";
import { type AttachmentRecord, loadAttachment, saveAttachment } from "../lib/state/attachments.ts";
import { lastIdentity } from "../lib/plugin/daemon_identity.ts";
import { createBagpipeFake, type Fault } from "./fakes/bagpipe_fake.ts";
import { networkSpecOf, type NodeNetwork } from "../lib/plugin/node_network.ts";
import { saveNetwork } from "../lib/state/networks.ts";

const URL_ = "http://127.0.0.1:8082";

function record(stateDir: string, overrides: Partial<AttachmentRecord> = {}): AttachmentRecord {
  return {
    containerId: "ctr1",
    ifname: "eth0",
    netns: "/run/netns/none",
    network: "blue",
    cniVersion: "1.1.0",
    // A name no link has, so nothing on this host is touched.
    hostVeth: "bcnotalink0000",
    mac: "0a:58:0a:1b:02:05",
    ips: ["10.27.2.5/16"],
    gateway: "10.27.0.1",
    instanceId: "blue",
    vni: 100,
    importRt: ["64512:100"],
    exportRt: ["64512:100"],
    advertiseSubnet: false,
    isGateway: false,
    bagpipeUrl: URL_,
    ipam: { type: "host-local", subnet: "10.27.0.0/16", dataDir: `${stateDir}/ipam` },
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

/** The node side, recorded instead of made: these tests run in the host's own netns. */
function recordingNetwork(problems: string[] = []): NodeNetwork & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async ensure(spec, vtep) {
      const { address } = await vtep();
      calls.push(
        `ensure ${spec.instanceId} vni ${spec.vni} vtep ${address} gw ${spec.gatewayCidr}`,
      );
      return true;
    },
    plug(hostVeth, spec) {
      calls.push(`plug ${hostVeth} ${spec.instanceId}`);
      return Promise.resolve();
    },
    problems: () => Promise.resolve([...problems]),
    portProblems: () => [],
  };
}

async function codeOf(p: Promise<unknown>): Promise<{ code?: number; text: string }> {
  try {
    await p;
    return { text: "" };
  } catch (e) {
    return e instanceof CniError
      ? { code: e.code, text: `${e.message} ${e.details ?? ""}` }
      : { code: -1, text: String(e) };
  }
}

Deno.test("attach(): daemon faults become the CNI code the runtime acts on", async (t) => {
  const dir = await Deno.makeTempDir();
  const cases: { name: string; fault: Fault; code: number; text: RegExp }[] = [
    { name: "connection refused → 11", fault: { kind: "refused" }, code: 11, text: /unreachable/ },
    { name: "connection reset → 11", fault: { kind: "reset" }, code: 11, text: /unreachable/ },
    {
      name: "slower than the timeout → 11",
      fault: { kind: "delay", ms: 2000 },
      code: 11,
      text: /did not answer in time/,
    },
    {
      name: "HTML 500 page → 101 with the daemon's message",
      fault: { kind: "html-error", message: "Boom in vif_plugged" },
      code: 101,
      text: /Boom in vif_plugged/,
    },
    { name: "garbage body → 101", fault: { kind: "garbage" }, code: 101, text: /attach/ },
  ];
  try {
    for (const c of cases) {
      await t.step(c.name, async () => {
        const fake = createBagpipeFake();
        const backend = new BagpipeBackend(
          URL_,
          300,
          dir,
          new Logger({}),
          fake.fetch,
          recordingNetwork(),
        );
        fake.inject(c.fault, { path: "/attach_localport" });
        const got = await codeOf(backend.attach(record(dir)));
        assert.equal(got.code, c.code, got.text);
        assert.match(got.text, c.text);
      });
    }
    await t.step("a daemon that does not answer /ping is never attached to", async () => {
      const fake = createBagpipeFake();
      fake.inject({ kind: "refused" }, { path: "/ping" });
      const got = await codeOf(
        new BagpipeBackend(URL_, 300, dir, new Logger({}), fake.fetch, recordingNetwork()).attach(
          record(dir),
        ),
      );
      assert.equal(got.code, 11);
      assert.equal(fake.requests.filter((r) => r.path === "/attach_localport").length, 0);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("detach(): tolerates what a gone endpoint or bug B1 answers, fails on what may pass", async (t) => {
  const dir = await Deno.makeTempDir();
  const cases: { name: string; fault?: Fault; detachBug?: boolean; code?: number }[] = [
    { name: "stock B1: 500 after the withdrawal is success", detachBug: true },
    { name: "400 not plugged (endpoint already gone) is success" },
    { name: "daemon down (refused) is success: it advertises nothing", fault: { kind: "refused" } },
    {
      name: "a timeout fails with 11 (the route may still be advertised)",
      fault: { kind: "delay", ms: 2000 },
      code: 11,
    },
    { name: "garbage fails with 101", fault: { kind: "garbage", status: 200 }, code: 101 },
  ];
  try {
    for (const c of cases) {
      await t.step(c.name, async () => {
        const fake = createBagpipeFake({ detachBug: c.detachBug });
        if (c.fault) fake.inject(c.fault, { path: "/detach_localport" });
        const got = await codeOf(
          new BagpipeBackend(URL_, 300, dir, new Logger({}), fake.fetch, recordingNetwork()).detach(
            record(dir),
          ),
        );
        assert.equal(got.code, c.code, got.text);
        if (!c.fault) assert.equal(fake.requests.at(-1)?.path, "/detach_localport");
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("status(): 0 with an Established peer, 51 without, 50 when the daemon is down", async (t) => {
  const dir = await Deno.makeTempDir();
  const cases: {
    name: string;
    peers?: { id: string; state: string }[];
    fault?: Fault;
    code?: number;
  }[] = [
    { name: "Established → ok", peers: [{ id: "10.0.0.1", state: "Established" }] },
    {
      name: "one of two Established → ok",
      peers: [{ id: "10.0.0.1", state: "Idle" }, { id: "10.0.0.2", state: "Established" }],
    },
    { name: "Idle → 51", peers: [{ id: "10.0.0.1", state: "Idle" }], code: 51 },
    { name: "no peer configured → 51", peers: [], code: 51 },
    { name: "refused → 50", fault: { kind: "refused" }, code: 50 },
    { name: "timeout → 50", fault: { kind: "delay", ms: 2000 }, code: 50 },
    { name: "HTML 500 → 50", fault: { kind: "html-error" }, code: 50 },
  ];
  try {
    for (const c of cases) {
      await t.step(c.name, async () => {
        const fake = createBagpipeFake({ peers: c.peers });
        if (c.fault) fake.inject(c.fault);
        const got = await codeOf(
          new BagpipeBackend(URL_, 300, dir, new Logger({}), fake.fetch, recordingNetwork())
            .status(),
        );
        assert.equal(got.code, c.code, got.text);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check(): an endpoint missing from the daemon is drift (102)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = createBagpipeFake();
    const got = await codeOf(
      new BagpipeBackend(URL_, 300, dir, new Logger({}), fake.fetch, recordingNetwork()).check(
        record(dir),
      ),
    );
    assert.equal(got.code, 102);
    assert.match(got.text, /not attached to VPN instance "blue"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resyncIfRestarted(): remembers the identity; skips pods whose veth is gone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = createBagpipeFake();
    saveAttachment(dir, record(dir));
    const backend = new BagpipeBackend(
      URL_,
      300,
      dir,
      new Logger({}),
      fake.fetch,
      recordingNetwork(),
    );
    assert.equal(
      await backend.resyncIfRestarted(),
      0,
      "the only pod's veth is gone: nothing to re-attach",
    );
    assert.equal(lastIdentity(dir, URL_), fake.identity);
    assert.equal(fake.requests.filter((r) => r.path === "/attach_localport").length, 0);
    fake.restart();
    assert.notEqual(lastIdentity(dir, URL_), fake.identity);
    await backend.resyncIfRestarted();
    assert.equal(lastIdentity(dir, URL_), fake.identity, "a restart is noticed and recorded");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DEL keeps the lease and the record when the withdrawal times out, so the runtime retries", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rec = record(dir);
    const raw = {
      cniVersion: "1.1.0",
      name: "blue",
      type: "bagpipe",
      importrt: "64512:100",
      exportrt: "64512:100",
      vni: 100,
      stateDir: dir,
      logFile: `${dir}/log`,
      ipam: rec.ipam,
    };
    const env = {
      command: "DEL" as const,
      containerId: rec.containerId,
      netns: "",
      ifname: "eth0",
      args: {},
      path: ["/usr/lib/cni"],
    };
    // A real host-local lease (files only; no network is touched).
    await execDelegate("ADD", "host-local", env.path, { ...raw, cniVersion: "1.0.0" }, {
      CNI_CONTAINERID: rec.containerId,
      CNI_IFNAME: "eth0",
      CNI_NETNS: "/run/netns/none",
      CNI_PATH: "/usr/lib/cni",
    });
    const leases = () =>
      [...Deno.readDirSync(`${dir}/ipam/blue`)].filter((e) => e.name.startsWith("10.")).length;
    assert.equal(leases(), 1);
    saveAttachment(dir, rec);

    const fake = createBagpipeFake();
    fake.inject({ kind: "delay", ms: 2000 }, { path: "/detach_localport" });
    const log = new Logger({});
    const ctx: CommandContext = {
      env,
      conf: parseNetConf(JSON.stringify(raw)),
      rawConf: raw,
      version: "1.1.0",
      log,
      backend: new BagpipeBackend(URL_, 300, dir, log, fake.fetch, recordingNetwork()),
    };
    const got = await codeOf(cmdDel(ctx));
    assert.equal(got.code, 11, got.text);
    assert.equal(leases(), 1, "the address is not released while it may still be advertised");
    assert.ok(loadAttachment(dir, rec.containerId, "eth0"), "the record stays for the retry");

    fake.clearFaults();
    await cmdDel(ctx);
    assert.equal(leases(), 0, "the retry releases it");
    assert.equal(loadAttachment(dir, rec.containerId, "eth0"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attach(): devices, plug, the node's gateway once per daemon identity, then the pod on linuxbr", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = createBagpipeFake({ localAddress: "10.199.0.11" });
    const network = recordingNetwork();
    const backend = new BagpipeBackend(URL_, 2000, dir, new Logger({}), fake.fetch, network);
    const pod = record(dir, { isGateway: true, gateway: "10.27.2.1", ips: ["10.27.2.5/16"] });
    await backend.attach(pod);
    assert.deepEqual(network.calls, [
      "ensure blue vni 100 vtep 10.199.0.11 gw 10.27.2.1/16",
      "plug bcnotalink0000 blue",
    ]);
    const attaches = fake.requests.filter((r) => r.path === "/attach_localport")
      .map((r) => r.body as Record<string, unknown>);
    assert.equal(attaches.length, 2, "the gateway, then the pod");
    assert.deepEqual(
      [attaches[0]!.local_port, attaches[0]!.mac_address, attaches[0]!.ip_address],
      [{ linuxif: "bpbr-blue" }, "0a:58:0a:1b:02:01", "10.27.2.1/32"],
    );
    for (const body of attaches) {
      assert.equal(body.linuxbr, "bpbr-blue");
      assert.equal(body.vni, 100);
    }
    await backend.attach({
      ...pod,
      containerId: "ctr2",
      hostVeth: "bcnotalink0001",
      mac: "0a:58:0a:1b:02:06",
      ips: ["10.27.2.6/16"],
    });
    assert.equal(
      fake.requests.filter((r) => r.path === "/attach_localport").length,
      3,
      "the gateway is not re-attached under the same daemon identity",
    );
    fake.restart();
    await backend.attach({
      ...pod,
      containerId: "ctr3",
      hostVeth: "bcnotalink0002",
      mac: "0a:58:0a:1b:02:07",
      ips: ["10.27.2.7/16"],
    });
    const after = fake.requests.filter((r) => r.path === "/attach_localport")
      .map((r) => r.body as Record<string, unknown>).slice(3);
    assert.equal(
      after[0]!.local_port && JSON.stringify(after[0]!.local_port),
      '{"linuxif":"bpbr-blue"}',
    );
    assert.ok(
      fake.endpoints().some((e) => e.macAddress === "0a:58:0a:1b:02:01"),
      "after a restart the gateway is attached again",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check() and status(): a node network with a missing piece is drift (102) and 51", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = createBagpipeFake();
    const broken = recordingNetwork(['VXLAN device "bpvx-blue" has "proxy"']);
    const backend = new BagpipeBackend(URL_, 2000, dir, new Logger({}), fake.fetch, broken);
    const pod = record(dir);
    saveAttachment(dir, pod);
    await backend.attach(pod);
    const check = await codeOf(backend.check(pod));
    assert.equal(check.code, 102);
    assert.match(check.text, /network "blue" on this node: VXLAN device "bpvx-blue" has "proxy"/);
    // STATUS reads the networks ADD recorded; the recording fake records none, so write one.
    saveNetwork(dir, { spec: networkSpecOf(pod) });
    const status = await codeOf(backend.status());
    assert.equal(status.code, 51);
    assert.match(status.text, /cannot give pods the Kubernetes network model: blue: VXLAN device/);
    assert.ok(broken.calls.some((c) => c.startsWith("ensure")), "STATUS tried to repair first");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
