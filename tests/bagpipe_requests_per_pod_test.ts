/**
 * How many requests the installed plugin sends its daemon, over a real socket in a node netns:
 * ADD is one exchange (the attach) while the daemon's listening socket is the one it had at the
 * last ping; DEL is one (the detach); a restarted daemon (new socket, new identity) is pinged and
 * the recorded pods are re-attached. The daemon is tests/fakes/bagpipe_standin.py (bagpipe-bgp's
 * server stack, plugging ports into `evpn---<id>` as the real driver does).
 */
import assert from "node:assert/strict";
import { TestNode } from "./helpers/plugin.ts";
import { type Standin, startStandin, stopStandin } from "./helpers/standin.ts";

const PORT = 18082;

interface Logged {
  method: string;
  path: string;
  body: { local_port?: { linuxif?: string } } | null;
}

/** The stand-in in the node netns, on PORT, logging each request to `log`. */
function standin(node: TestNode, log: string, env: Record<string, string> = {}): Promise<Standin> {
  return startStandin({ netns: node.netns, port: PORT, requestLog: log, env });
}

Deno.test("ADD is one exchange with the daemon until it restarts; DEL is one", async () => {
  const node = await TestNode.create("reqs");
  const log = `${node.dir}/requests.jsonl`;
  let daemon = await standin(node, log);
  // Requests the daemon received since the last call.
  let seen = 0;
  const received = (): Logged[] => {
    const lines = Deno.readTextFileSync(log).trim().split("\n").filter(Boolean);
    const fresh = lines.slice(seen).map((l) => JSON.parse(l) as Logged);
    seen = lines.length;
    return fresh;
  };
  const calls = (logged: Logged[]) => logged.map((r) => `${r.method} ${r.path}`);
  try {
    const conf = node.config({
      backend: "bagpipe",
      vni: 90,
      bagpipeUrl: `http://127.0.0.1:${PORT}`,
    });
    const add = async (id: string) => {
      const netns = await node.addPod();
      const out = await node.exec("ADD", conf, { containerId: id, netns, ifname: "eth0" });
      assert.equal(out.code, 0, out.stdout + out.stderr);
      return { containerId: id, netns };
    };

    const first = await add("c1");
    // The network's first pod on the node: its VXLAN device needs the daemon's VTEP, and the
    // node's gateway is attached once.
    assert.deepEqual(calls(received()), [
      "GET /looking-glass/vpns/dataplane/drivers/evpn",
      "GET /ping",
      "POST /attach_localport",
      "POST /attach_localport",
    ], "first contact");

    const second = await add("c2");
    const secondAttach = received();
    assert.deepEqual(calls(secondAttach), ["POST /attach_localport"], "same daemon: no ping");
    // Made plugged into the network's bridge, in hairpin mode (no `ip` process of its own).
    const port = secondAttach[0]!.body?.local_port?.linuxif ?? "";
    const shown = await new Deno.Command("ip", {
      args: ["-n", node.netns, "-d", "-json", "link", "show", port],
      stdout: "piped",
    }).output();
    const [link] = JSON.parse(new TextDecoder().decode(shown.stdout)) as {
      master?: string;
      linkinfo?: { info_slave_data?: { hairpin?: boolean } };
    }[];
    assert.match(link?.master ?? "", /^bpbr-/, `${port} is a port of the network's bridge`);
    assert.equal(link?.linkinfo?.info_slave_data?.hairpin, true, `${port} is in hairpin mode`);

    const del = await node.exec("DEL", conf, { ...second, ifname: "eth0" });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.deepEqual(calls(received()), ["POST /detach_localport"]);

    // A restart: new process, new socket, new identity, no attachment kept.
    await stopStandin(daemon);
    daemon = await standin(node, log);
    await add("c3");
    const afterRestart = received();
    // Resync re-attaches the node's gateway, then the first pod, before the new pod.
    assert.deepEqual(calls(afterRestart), [
      "GET /ping",
      "POST /attach_localport",
      "POST /attach_localport",
      "POST /attach_localport",
    ]);
    const hostVeth = (await node.links()).filter((l) => l.startsWith("bc"));
    assert.equal(hostVeth.length, 2, `two pods left: ${hostVeth}`);
    assert.ok(
      hostVeth.includes(afterRestart[2]!.body?.local_port?.linuxif ?? ""),
      "the first pod was re-attached (resync) before the new one",
    );
    assert.notEqual(first.containerId, "c3");

    await add("c4");
    assert.deepEqual(calls(received()), ["POST /attach_localport"], "restart noticed once");
  } finally {
    await stopStandin(daemon);
    await node.destroy();
  }
});

Deno.test("an attach and its rollback detach that time out keep veth, record and lease for DEL", async () => {
  const node = await TestNode.create("slowd");
  const log = `${node.dir}/requests.jsonl`;
  // One pod while the daemon is quick, so the node's gateway is attached; then the same daemon
  // (its identity: nothing to resync) answers attach and detach after 1.5 s, longer than the
  // plugin's budget of 300 ms.
  const identity = { STANDIN_IDENTITY: "4611686018427387905" };
  let daemon = await standin(node, log, identity);
  try {
    const conf = node.config({
      backend: "bagpipe",
      vni: 90,
      bagpipeUrl: `http://127.0.0.1:${PORT}`,
      bagpipeTimeoutMs: 300,
    });
    const first = { containerId: "quick1", netns: await node.addPod(), ifname: "eth0" };
    assert.equal((await node.exec("ADD", conf, first)).code, 0, "the first pod, quickly");
    await stopStandin(daemon);
    daemon = await standin(node, log, { ...identity, STANDIN_DELAY_MS: "1500" });
    const pod = { containerId: "slow1", netns: await node.addPod(), ifname: "eth0" };
    const add = await node.exec("ADD", conf, pod);
    assert.equal(add.code, 1, add.stdout);
    assert.equal(add.json?.code, 11, "try again later");
    assert.match(
      String(add.json?.details),
      /kept for DEL to release: attachment record, veth "bc\S+" of eth0, IPAM lease/,
    );
    assert.equal(node.leases().length, 2, "the address is not handed out while maybe advertised");
    assert.equal(node.records().length, 2);
    assert.equal((await node.links()).filter((l) => l.startsWith("bc")).length, 2);

    // The runtime's DEL, once the daemon answers in time, releases all of it.
    await stopStandin(daemon);
    daemon = await standin(node, log);
    const del = await node.exec("DEL", conf, pod);
    assert.equal(del.code, 0, del.stdout);
    assert.equal((await node.exec("DEL", conf, first)).code, 0);
    assert.deepEqual(node.leases(), []);
    assert.deepEqual(node.records(), []);
    assert.deepEqual((await node.links()).filter((l) => l.startsWith("bc")), []);
  } finally {
    await stopStandin(daemon);
    await node.destroy();
  }
});
