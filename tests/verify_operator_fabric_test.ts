/**
 * `verify` on the fabric an operator has (issue #9), on the real test fabric (GoBGP reflector,
 * stock bagpipe-bgp nodes, FRR beside them, pods made by the installed plugin):
 * - a capture that starts after the sessions are up and holds bursts of UPDATEs (many pods
 *   attached at once, pods deleted, a peer restart): every message of every segment decoded,
 *   every EVPN NLRI cross-checked against tshark on the same file, withdrawals of routes
 *   announced before the capture listed with what they name;
 * - `--rib` with snapshots taken from the real programs in the test (bagpipe-bgp's looking
 *   glass, `gobgp global rib` and per neighbour, FRR's vtysh) gives what `--live` gives;
 * - `--live` on a node while pods ping: every flow checked, consistent, exit 0; traffic to a
 *   pod deleted meanwhile (its route withdrawn) is an error, exit 1; Ctrl-C ends
 *   it with the report; a missing interface, no tcpdump, no permission, a daemon that does not
 *   answer are clear errors (exit 2); no tcpdump of ours is ever left running.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { type Fabric, type FabricNode, startFabric } from "../lib/fabric/fabric.ts";
import { decodeCapture, type VerifyReport } from "../wasm/mod.ts";
import { loadSnapshot, parseSnapshot, snapshotRecords } from "../lib/verify/rib/load.ts";
import { Cluster, type Network, type Pod } from "./helpers/cluster.ts";
import { type FrrVtep, startFrrVtep } from "../lib/fabric/frr_vtep.ts";
import { defaultConfigDir } from "../lib/fabric/template.ts";
import { assertBgpMessageCounts, bgpTypesPerFrame, tsharkFields } from "./helpers/tshark.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const blue: Network = {
  name: "blue",
  instance: "blue",
  rt: "64512:100",
  prefix: "10.27",
  vni: 100,
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function verifyArgv(netns: string, args: string[]): string[] {
  return ["ip", "netns", "exec", netns, Deno.execPath(), "run", "-A", MAIN, "verify", ...args];
}

async function run(argv: string[], env?: Record<string, string>): Promise<Run> {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}

/** tcpdump processes running in `netns` (ours are the only ones started there). */
async function tcpdumpsIn(netns: string): Promise<number[]> {
  const out = await run(["ip", "netns", "pids", netns]);
  const pids = out.stdout.split("\n").filter(Boolean).map(Number);
  const comms = await Promise.all(
    pids.map((p) => Deno.readTextFile(`/proc/${p}/comm`).then((c) => c.trim(), () => "")),
  );
  return pids.filter((_, i) => comms[i] === "tcpdump");
}

async function decodeFile(file: string, snapshot?: Uint8Array): Promise<VerifyReport> {
  using f = await Deno.open(file);
  const { report, readable } = await decodeCapture(f, { snapshot });
  ok(readable, `${file} is readable`);
  return report;
}

/** Pings from `from` to `to` once a second until stopped; resolves to the answers counted. */
function pingLoop(cluster: Cluster, from: Pod, to: Pod): { stop: () => Promise<number> } {
  let going = true;
  const done = (async () => {
    let answered = 0;
    while (going) {
      if (await cluster.ping(from, to.ip)) answered++;
      await new Promise((r) => setTimeout(r, 300));
    }
    return answered;
  })();
  return {
    stop: () => {
      going = false;
      return done;
    },
  };
}

async function lookingGlassDocument(fabric: Fabric, node: FabricNode): Promise<unknown> {
  const list = (await fabric.api(node, "GET", "/looking-glass/vpns/instances")).body as {
    id: string;
  }[];
  const instances: Record<string, unknown> = {};
  for (const { id } of list) {
    const base = `/looking-glass/vpns/instances/${id}`;
    instances[id] = {
      received_routes: (await fabric.api(node, "GET", `${base}/received_routes`)).body,
      adv_routes: (await fabric.api(node, "GET", `${base}/adv_routes`)).body,
    };
  }
  return { instances };
}

async function gobgp(fabric: Fabric, args: string[]): Promise<string> {
  const out = await fabric.exec(fabric.reflector.netns, ["gobgp", "-p", "50051", ...args]);
  if (out.code !== 0) throw new Error(`gobgp ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

Deno.test({
  name: "verify on a running fabric: mid-stream captures, --rib snapshots, --live",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    let fabric: Fabric | undefined;
    let frr: FrrVtep | undefined;
    const dir = await Deno.makeTempDir({ prefix: "bcni-vop-" });
    try {
      fabric = await startFabric({ nodes: 2, readyTimeoutMs: 120000 });
      const f = fabric;
      const [n1, n2] = f.nodes as [FabricNode, FabricNode];
      const cluster = await Cluster.create(f);
      const a = await cluster.addPod(n1, blue);
      const b = await cluster.addPod(n2, blue);
      ok(await cluster.pingUntil(a, b.ip, 60000) !== undefined, "first pods reach each other");
      // FRR beside the nodes, VNIs 300 and 301 with no host: the test puts MACs on their bridges.
      frr = await startFrrVtep(f, {
        name: "frr",
        hostOctet: 250,
        vni: 300,
        moreVnis: [301],
        configDir: defaultConfigDir(),
        readyTimeoutMs: 120_000,
      });

      await t.step("a capture joined mid-session: every UPDATE of every segment", async () => {
        const before = parseSnapshot(
          "gobgp",
          await gobgp(f, ["global", "rib", "-a", "evpn", "-j"]),
        );
        const file = `${dir}/midstream.pcap`;
        const capture = await f.startCapture(file);
        let podsAdded: Pod[] = [];
        try {
          await new Promise((r) => setTimeout(r, 500));
          // Bursts: many pods attached at once on each node, the first pod (announced before
          // the capture) deleted, then a peer restart and the resync that re-attaches.
          // FRR: 2 x 16 hosts appear at once; it packs their routes into few segments.
          const hosts = (vni: number) =>
            Array.from(
              { length: 16 },
              (_, i) =>
                `02:fe:00:${(vni - 256).toString(16).padStart(2, "0")}:00:${
                  i.toString(16).padStart(2, "0")
                }`,
            );
          await Promise.all([frr!.addMacs(300, hosts(300)), frr!.addMacs(301, hosts(301))]);
          podsAdded = await Promise.all([
            ...Array.from({ length: 6 }, () => cluster.addPod(n1, blue)),
            ...Array.from({ length: 4 }, () => cluster.addPod(n2, blue)),
          ]);
          await cluster.delPod(a);
          await f.restartDaemon(n2);
          await f.waitEstablished(n2, 120000);
          const resync = await cluster.resync(n2);
          assertEquals(resync.code, 0, resync.stderr);
          ok(await cluster.pingUntil(podsAdded[0]!, b.ip, 60000) !== undefined, "pods reach b");
          await new Promise((r) => setTimeout(r, 2000));
        } finally {
          await capture.stop();
        }
        const r = await decodeFile(file);
        const midStream = r.sessions.filter((s) => s.directions.some((d) => d.started_mid_stream));
        ok(midStream.length >= 2, "the nodes' sessions were joined mid-stream");
        for (const s of midStream) {
          for (const d of s.directions.filter((x) => x.started_mid_stream && x.messages.update)) {
            // iBGP paths are empty (4-octet AS cannot be told); bagpipe and GoBGP send no path ids.
            assertEquals(d.inferred, { four_octet_as: null, add_path: false });
          }
        }
        assertEquals(
          r.sessions.reduce((n, s) => n + s.directions.reduce((m, d) => m + d.decode_errors, 0), 0),
          0,
        );
        // tshark on the same file: message counts, bursts, and every EVPN NLRI.
        const types = await bgpTypesPerFrame(file);
        assertBgpMessageCounts(r, types);
        const count = (t: string) => types.flat().filter((x) => x === t).length;
        const bursts = types.filter((row) => row.filter((x) => x === "2").length >= 2).length;
        ok(bursts >= 1, `segments carrying several UPDATEs: ${bursts}`);
        console.log(`MIDSTREAM ${count("2")} UPDATEs, ${bursts} segments with several UPDATEs`);
        const nlri = await tsharkFields(file, "bgp.evpn.nlri.rt", [
          "bgp.evpn.nlri.rt",
          "bgp.evpn.nlri.mac_addr",
          "bgp.evpn.nlri.iplen",
          "bgp.evpn.nlri.ip.addr",
        ], { occurrence: "a", aggregator: ";" });
        // Per frame: route types in order; type-2 and type-3 routes each have an IP length,
        // and an IPv4 address when it is 32 (FRR's MAC-only routes have none); type 2 a MAC.
        const theirs = nlri.flatMap(([rt, macs, lens, ips]) => {
          const m = (macs ?? "").split(";");
          const l = (lens ?? "").split(";");
          const i = (ips ?? "").split(";");
          let mk = 0;
          let lk = 0;
          let a = 0;
          return rt!.split(";").map((x) => {
            if (x !== "2" && x !== "3") return x;
            const ip = l[lk++] === "32" ? i[a++] : "";
            return x === "2" ? `2 ${m[mk++]} ${ip}` : `3 ${ip}`;
          });
        }).sort();
        const key = (x: { type: number; mac?: string; ip?: string | null; originator?: string }) =>
          x.type === 2
            ? `2 ${x.mac} ${x.ip ?? ""}`
            : x.type === 3
            ? `3 ${x.originator}`
            : `${x.type}`;
        const ours = [
          ...r.routes.flatMap((x) => Array(x.advertisements).fill(key(x))),
          // One entry per withdrawn route and session, standing for `count` withdrawals.
          ...r.withdrawals.flatMap((x) => Array(x.count).fill(key(x))),
        ].sort();
        assertEquals(ours, theirs);
        // The deleted pod's route was announced before the capture: its withdrawal is listed
        // with what it names; without a snapshot its VTEP and VNI are unknown.
        const gone = r.withdrawals.filter((w) => w.mac === a.mac);
        ok(gone.length >= 1, `withdrawal of ${a.mac} listed`);
        ok(
          gone.every((w) => w.type === 2 && w.ip === a.ip && w.rd.value.startsWith(n1.underlayIp)),
        );
        // With the reflector's table from just before the capture, it is known.
        const seeded = await decodeFile(file, snapshotRecords([before]));
        const named = seeded.withdrawals.filter((w) => w.mac === a.mac);
        ok(named.length >= 1 && named.every((w) => w.vtep === n1.underlayIp && w.vni !== null));
        ok(named.some((w) => w.matched));
        const text = await run([Deno.execPath(), "run", "-A", MAIN, "verify", file]);
        ok(
          text.stdout.includes(`mac_ip ${a.mac} ${a.ip}`),
          "the text report names the withdrawn route",
        );
        ok(text.stdout.includes("inferred from UPDATEs"), "the text report says what was inferred");
      });

      const c = cluster.pods.find((p) => p.node === n1)!;
      const d = cluster.pods.find((p) => p.node === n2)!;

      await t.step("--live while pods ping, and --rib of each program on its capture", async () => {
        const snaps = {
          "bagpipe.json": JSON.stringify(await lookingGlassDocument(f, n1)),
          "gobgp.json": await gobgp(f, ["global", "rib", "-a", "evpn", "-j"]),
          // Per neighbour: what n1 sent the reflector, and what the reflector sent n1.
          "gobgp-n1-in.json": await gobgp(f, [
            "neighbor",
            n1.underlayIp,
            "adj-in",
            "-a",
            "evpn",
            "-j",
          ]),
          "gobgp-n1-out.json": await gobgp(f, [
            "neighbor",
            n1.underlayIp,
            "adj-out",
            "-a",
            "evpn",
            "-j",
          ]),
          "frr.json": await frr!.vtysh("show bgp l2vpn evpn route detail json"),
          "frr-short.json": await frr!.vtysh("show bgp l2vpn evpn json"),
        };
        for (const [name, text] of Object.entries(snaps)) {
          await Deno.writeTextFile(`${dir}/${name}`, text);
        }
        const pings = pingLoop(cluster, c, d);
        const saved = `${dir}/live.pcap`;
        const live = await run(
          verifyArgv(n1.name, [
            "--live",
            "--state-dir",
            cluster.stateDir(n1),
            "--duration",
            "6",
            "--json",
            "--save",
            saved,
          ]),
        );
        const answered = await pings.stop();
        ok(answered > 0, "pods answered pings during the live run");
        assertEquals(live.code, 0, live.stderr);
        // The node check ran after the capture (kernel entries and records against the daemon).
        ok(/node check: \d+ finding/.test(live.stderr), live.stderr);
        ok(!live.stderr.includes("node ERROR"), live.stderr);
        const r = JSON.parse(live.stdout) as VerifyReport;
        ok(r.flows.length >= 2, "flows both ways");
        ok(!r.findings.some((x) => x.kind === "unverifiable"), "every flow checked");
        assertEquals([r.summary.errors, r.summary.consistent], [0, true]);
        ok(r.summary.snapshot_routes > 0);
        assertEquals(await tcpdumpsIn(n1.name), [], "no tcpdump left");
        // The same capture against each program's table gives what --live gave.
        const verdict = (x: VerifyReport) => ({
          errors: x.summary.errors,
          flows: x.flows.length,
          kinds: [...new Set(x.findings.filter((y) => y.severity !== "info").map((y) => y.kind))],
        });
        for (
          const names of [["bagpipe.json"], ["gobgp.json"], [
            "gobgp-n1-in.json",
            "gobgp-n1-out.json",
          ], ["frr.json"]]
        ) {
          const name = names.join(" + ");
          const snaps = await Promise.all(names.map((x) => loadSnapshot(`${dir}/${x}`)));
          const seeded = await decodeFile(saved, snapshotRecords(snaps));
          assertEquals(verdict(seeded), verdict(r), name);
          ok(seeded.summary.routes_active >= cluster.pods.length, `${name}: every pod's route`);
        }
        const short = await run([
          Deno.execPath(),
          "run",
          "-A",
          MAIN,
          "verify",
          saved,
          "--rib",
          `${dir}/frr-short.json`,
        ]);
        assertEquals(short.code, 2);
        ok(short.stderr.includes("carries no VNI"), short.stderr);
      });

      await t.step("--live: traffic to a pod whose route was withdrawn is an error", async () => {
        // A pod on n2 is deleted (DEL withdraws its route) while a pod on n1 keeps pinging its
        // address: the ARP entry still names the old MAC, so frames to it cross the fabric.
        const pings = pingLoop(cluster, c, d);
        const liveRun = run(
          verifyArgv(n1.name, [
            "--live",
            "--state-dir",
            cluster.stateDir(n1),
            "--duration",
            "10",
            "--json",
          ]),
        );
        let live: Run;
        try {
          await new Promise((r) => setTimeout(r, 3000));
          await cluster.delPod(d);
        } finally {
          live = await liveRun;
          await pings.stop();
        }
        assertEquals(live.code, 1, live.stderr);
        const r = JSON.parse(live.stdout) as VerifyReport;
        ok(
          r.withdrawals.some((w) => w.mac === d.mac && w.vtep === n2.underlayIp && w.matched),
          "the withdrawal is listed with the VTEP the snapshot knew",
        );
        const errors = r.findings.filter((x) => x.severity === "error");
        ok(
          errors.some((x) => x.kind === "dst_mac_withdrawn" && x.dst_mac === d.mac),
          `dst_mac_withdrawn names ${d.mac}: ${errors.map((x) => `${x.kind} ${x.dst_mac}`)}`,
        );
        ok(
          live.stderr.includes("ERROR dst_mac_withdrawn"),
          "the finding was printed as it appeared",
        );
        assertEquals(await tcpdumpsIn(n1.name), []);
      });

      await t.step("--live: Ctrl-C ends it with the report", async () => {
        const child = new Deno.Command("ip", {
          args: verifyArgv(n2.name, ["--live"]).slice(1),
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
        let err = "";
        while (!err.includes("until Ctrl-C")) {
          const { value, done } = await reader.read();
          if (done) break;
          err += value;
        }
        ok(err.includes("until Ctrl-C"), err);
        await new Promise((r) => setTimeout(r, 1500));
        child.kill("SIGINT");
        const [status, stdout] = await Promise.all([
          child.status,
          new Response(child.stdout).text(),
          (async () => {
            for (;;) if ((await reader.read()).done) return;
          })(),
        ]);
        ok(status.code === 0 || status.code === 1, `exit ${status.code}`);
        ok(stdout.includes("Verdict:"), stdout);
        assertEquals(await tcpdumpsIn(n2.name), []);
      });

      await t.step("--live: clear errors, nothing left running", async () => {
        const cases: [string, string[], string, Record<string, string>?][] = [
          ["missing interface", ["--interface", "nosuch0"], 'interface "nosuch0" does not exist'],
          ["daemon down", ["--bagpipe-url", "http://127.0.0.1:1"], "bagpipe-bgp is not answering"],
        ];
        // No tcpdump: a PATH holding only `ip`.
        const bin = `${dir}/bin`;
        await Deno.mkdir(bin);
        await Deno.symlink("/usr/sbin/ip", `${bin}/ip`).catch(() =>
          Deno.symlink("/usr/bin/ip", `${bin}/ip`)
        );
        cases.push(["tcpdump missing", [], "tcpdump is not installed", { PATH: bin }]);
        for (const [what, args, why, env] of cases) {
          const out = await run(verifyArgv(n1.name, ["--live", "--duration", "2", ...args]), env);
          assertEquals(out.code, 2, `${what}: ${out.stderr}`);
          ok(out.stderr.includes(why), `${what}: ${out.stderr}`);
          ok(!out.stderr.includes("Uncaught"), `${what}: ${out.stderr}`);
          assertEquals(await tcpdumpsIn(n1.name), [], what);
        }
        // No permission: root without CAP_NET_RAW cannot open a capture socket.
        const noRaw = await run([
          "setpriv",
          "--inh-caps=-net_raw",
          "--bounding-set=-net_raw",
          "--",
          ...verifyArgv(n1.name, ["--live", "--duration", "2"]),
        ]);
        assertEquals(noRaw.code, 2, noRaw.stderr);
        ok(noRaw.stderr.includes("tcpdump cannot capture on underlay0"), noRaw.stderr);
        assertEquals(await tcpdumpsIn(n1.name), []);
      });
    } finally {
      await frr?.stop();
      await fabric?.teardown();
      await Deno.remove(dir, { recursive: true }).catch(() => undefined);
    }
  },
});
