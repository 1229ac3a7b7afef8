/**
 * FRR 8.4 as a bare-metal server's EVPN VTEP beside the bagpipe-bgp nodes, all real: zebra and
 * bgpd in a netns of their own (own config, pid and vty paths), a bridge and VXLAN device for the
 * pods' VNI, `advertise-all-vni`, iBGP to the GoBGP reflector; a host behind it pings pods on both
 * nodes and is pinged back. Then `verify` on the capture of the fabric decodes FRR's routes and
 * checks its VXLAN traffic. Figures are printed, never asserted.
 */
import assert from "node:assert/strict";
import { type Fabric, startFabric } from "../lib/fabric/fabric.ts";
import { frrVarTmpOf, type FrrVtep, startFrrVtep } from "../lib/fabric/frr_vtep.ts";
import { listNetns } from "../lib/fabric/netns.ts";
import { defaultConfigDir } from "../lib/fabric/template.ts";
import type { Capture } from "../lib/fabric/capture.ts";
import { Cluster, type Network, type Pod } from "./helpers/cluster.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const VNI = 90;
/** FRR derives RT <AS>:<VNI>; the pods' network must import and export exactly that. */
const frrnet: Network = {
  name: "frrnet",
  instance: "frrnet",
  rt: `64512:${VNI}`,
  vni: VNI,
  prefix: "10.42",
};
const HOST_IP = "10.42.100.10";
const HOST_MAC = "02:00:0a:2a:64:0a";
const SVI_IP = "10.42.100.1";

interface LgRoute {
  prefix?: string;
  [key: string]: unknown;
}

/** A node's looking-glass routes of the instance, as text, upper-cased (bagpipe prints MACs so). */
async function lgRoutes(f: Fabric, node: Fabric["nodes"][0], kind: string): Promise<string> {
  const answer = await f.api(node, "GET", `/looking-glass/vpns/instances/frrnet/${kind}`);
  return JSON.stringify(answer.body as LgRoute[]).toUpperCase();
}

/** Which of FRR's two type-2 routes for the host the node elected: "mac-ip", "mac-only", "none". */
async function hostBestRoute(f: Fabric, node: Fabric["nodes"][0]): Promise<string> {
  const best = await lgRoutes(f, node, "best_routes");
  if (best.includes(`${HOST_MAC.toUpperCase()}/48:${HOST_IP}:`)) return "mac-ip";
  if (best.includes(`${HOST_MAC.toUpperCase()}/48::`)) return "mac-only";
  return "none";
}

/** The `[RouteEntry: …]` texts (repr) the daemon logged for the host's routes, by EVI worker. */
async function hostRouteReprs(logFile: string): Promise<{ worker: string; reprs: string[] }> {
  const reprs = new Set<string>();
  let worker = "";
  for (const line of (await Deno.readTextFile(logFile)).split("\n")) {
    const to = /Dispatching event to (EVI-\d+)/.exec(line);
    const start = line.indexOf("[RouteEntry:");
    if (!to || start < 0 || !line.includes(HOST_MAC.toUpperCase())) continue;
    let depth = 0;
    let end = start;
    for (; end < line.length; end++) {
      if (line[end] === "[") depth++;
      if (line[end] === "]" && --depth === 0) break;
    }
    reprs.add(line.slice(start, end + 1));
    worker = to[1]!;
  }
  return { worker, reprs: [...reprs] };
}

/**
 * A PYTHONHASHSEED under which bagpipe-bgp 17's tie-break (tracker_worker.compare_no_ecmp:
 * hash(hostname + worker name + repr(route)), larger wins) elects FRR's MAC-only route over
 * its MAC/IP route on every node given: B4's trigger (bagpipe-bgp-b4.md), found, not guessed.
 */
async function seedElectingMacOnly(
  hostname: string,
  nodes: { worker: string; macOnly: string; macIp: string }[],
): Promise<number | undefined> {
  const script = "import sys, json\n" +
    "nodes = json.loads(sys.argv[1])\n" +
    "print(all(hash(sys.argv[2] + n['worker'] + n['macOnly']) > " +
    "hash(sys.argv[2] + n['worker'] + n['macIp']) for n in nodes))";
  for (let seed = 0; seed < 200; seed++) {
    const out = await new Deno.Command("python3", {
      args: ["-c", script, JSON.stringify(nodes), hostname],
      env: { PYTHONHASHSEED: String(seed) },
      stdout: "piped",
    }).output();
    if (new TextDecoder().decode(out.stdout).trim() === "True") return seed;
  }
  return undefined;
}

async function hostPing(f: Fabric, frr: FrrVtep, to: string): Promise<boolean> {
  return (await f.exec(frr.hostNetns!, ["ping", "-c", "1", "-W", "1", to])).code === 0;
}

async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<number | undefined> {
  const since = performance.now();
  while (performance.now() - since < timeoutMs) {
    if (await check()) return Math.round(performance.now() - since);
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

Deno.test("FRR 8.4 VTEP beside bagpipe-bgp nodes: host ↔ pods, routes both ways, verify", async (t) => {
  let fabric: Fabric | undefined;
  let frr: FrrVtep | undefined;
  let capture: Capture | undefined;
  let frrPids: number[] = [];
  let id = "";
  const workDir = await Deno.makeTempDir({ prefix: "bcni-frr-" });
  const pcap = `${workDir}/fabric.pcap`;
  try {
    fabric = await startFabric({
      nodes: 2,
      workDir,
      readyTimeoutMs: 300_000,
      captureAtStart: { file: pcap },
      onStep: (m) => console.log(`  ${m}`),
    });
    id = fabric.id;
    const f = fabric;
    const [n1, n2] = f.nodes as [typeof f.nodes[0], typeof f.nodes[0]];
    capture = f.initialCapture;
    frr = await startFrrVtep(f, {
      name: "frr",
      hostOctet: 40,
      vni: VNI,
      sviCidr: `${SVI_IP}/16`,
      host: { cidr: `${HOST_IP}/16`, mac: HOST_MAC },
      configDir: defaultConfigDir(),
      readyTimeoutMs: 120_000,
    });
    frrPids = frr.pids();
    const v = frr;
    const cluster = await Cluster.create(f);
    const pods: Pod[] = [];

    await t.step("1. a host behind FRR pings pods on both nodes and is pinged back", async () => {
      pods.push(await cluster.addPod(n1, frrnet), await cluster.addPod(n2, frrnet));
      // FRR advertises the host's MAC/IP route once its SVI has a neighbour entry for it.
      assert.ok(await hostPing(f, v, SVI_IP), "the host reaches FRR's SVI");
      for (const pod of pods) {
        const ms = await until(() => hostPing(f, v, pod.ip), 60_000);
        console.log(`FRR ${pod.node.name} elected FRR's ${await hostBestRoute(f, pod.node)} route`);
        console.log(
          `FRR converge host-to-${pod.node.name} ${ms === undefined ? "timeout" : `${ms} ms`}`,
        );
        const best = await lgRoutes(f, pod.node, "best_routes");
        const b4 = !best.includes(`${HOST_MAC.toUpperCase()}/48:${HOST_IP}`);
        assert.ok(
          ms !== undefined,
          `host ${HOST_IP} cannot reach pod ${pod.ip} on ${pod.node.name}${
            b4
              ? " (B4: the node's best route for the host is FRR's MAC-only route, so it has no ARP-proxy entry; see bagpipe-bgp-b4.md)"
              : ""
          }\nbest routes: ${best}`,
        );
        assert.ok(
          await cluster.pingUntil(pod, HOST_IP, 20_000) !== undefined,
          `pod ${pod.ip} → host`,
        );
      }
      // Full-size frames cross both ways without fragmentation (1450 on both sides).
      const big = await f.exec(v.hostNetns!, [
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "-M",
        "do",
        "-s",
        "1422",
        pods[0]!.ip,
      ]);
      assert.equal(big.code, 0, `a 1450-byte don't-fragment ping passes: ${big.stdout}`);
    });

    await t.step(
      "2. FRR's table holds the pods' type-2 routes; the nodes' hold FRR's",
      async () => {
        const routes = await v.vtysh("show bgp l2vpn evpn route type macip json");
        for (const pod of pods) {
          assert.ok(
            routes.toLowerCase().includes(pod.mac.toLowerCase()),
            `FRR has ${pod.mac}'s route`,
          );
        }
        const macs = await v.vtyshJson<
          { macs?: Record<string, { type?: string; remoteVtep?: string }> }
        >(
          `show evpn mac vni ${VNI}`,
        );
        for (const pod of pods) {
          const entry = macs.macs?.[pod.mac.toLowerCase()];
          assert.equal(
            entry?.type,
            "remote",
            `FRR imported ${pod.mac} into VNI ${VNI}: ${JSON.stringify(macs)}`,
          );
          assert.equal(
            entry?.remoteVtep,
            pod.node.underlayIp,
            `${pod.mac} is behind ${pod.node.name}`,
          );
        }
        for (const node of [n1, n2]) {
          const received = await lgRoutes(f, node, "received_routes");
          assert.ok(
            received.includes(`${HOST_MAC.toUpperCase()}/48:${HOST_IP}`),
            `${node.name}'s looking glass has FRR's MAC/IP route for the host: ${received}`,
          );
          const fdb = await f.exec(node.name, ["bridge", "fdb", "show", "dev", "bpvx-frrnet"]);
          assert.match(
            fdb.stdout,
            new RegExp(`${HOST_MAC} dst ${v.vtepIp.replaceAll(".", "\\.")}`),
          );
        }
      },
    );

    await t.step("3. verify decodes FRR's routes and checks its VXLAN traffic", async () => {
      // Stopped before the B4 step, whose daemon restarts add findings of their own.
      await capture!.stop();
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}lib/verify/command.ts`, pcap, "--json"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const report = JSON.parse(new TextDecoder().decode(out.stdout));
      const findings = report.findings as {
        severity: string;
        kind: string;
        src_vtep?: string;
        dst_vtep?: string;
      }[];
      // The host's first frames precede FRR's route for it (FRR learns the MAC from them):
      // src_mac_advertised_late warnings, not errors.
      const errors = findings.filter((x) => x.severity === "error");
      assert.deepEqual(errors, [], "verify finds no error in the FRR fabric");
      const late = findings.filter((x) => x.kind === "src_mac_advertised_late") as unknown as {
        detail: { delay_ms: number };
      }[];
      console.log(
        `FRR verify: late source MAC routes, delays ms: ${
          late.map((x) => x.detail.delay_ms).join(", ") || "none"
        }`,
      );
      const routes = report.routes as {
        type_name: string;
        vtep: string;
        vni: number;
        label_kind: string;
        mac?: string;
        ip?: string | null;
        route_targets: string[];
        encapsulation: { name: string } | null;
      }[];
      const frrRoutes = routes.filter((r) => r.vtep === v.vtepIp);
      const hostMacIp = frrRoutes.find((r) => r.type_name === "mac_ip" && r.ip === HOST_IP);
      assert.ok(
        hostMacIp,
        `FRR's MAC/IP route for the host is decoded: ${JSON.stringify(frrRoutes)}`,
      );
      assert.equal(hostMacIp.vni, VNI, "FRR's VNI read from the 24-bit label field");
      assert.equal(hostMacIp.label_kind, "vni");
      assert.equal(hostMacIp.mac?.toLowerCase(), HOST_MAC);
      assert.ok(hostMacIp.route_targets.some((rt) => rt.includes(`64512:${VNI}`)), "its RT");
      assert.ok(
        frrRoutes.some((r) =>
          r.type_name === "mac_ip" && r.ip === null && r.mac?.toLowerCase() === HOST_MAC
        ),
        "and FRR's MAC-only route",
      );
      const imet = frrRoutes.find((r) => r.type_name === "inclusive_multicast");
      assert.equal(imet?.vni, VNI, "FRR's IMET route with the VNI from its PMSI label");
      const flows = report.flows as {
        src_vtep: string;
        dst_vtep: string;
        vni: number;
        packets: number;
      }[];
      for (const node of [n1, n2]) {
        const toNode = flows.filter((x) =>
          x.src_vtep === v.vtepIp && x.dst_vtep === node.underlayIp
        );
        const fromNode = flows.filter((x) =>
          x.src_vtep === node.underlayIp && x.dst_vtep === v.vtepIp
        );
        assert.ok(
          toNode.length > 0 && toNode.every((x) => x.vni === VNI),
          `FRR → ${node.name} VXLAN, VNI ${VNI}`,
        );
        assert.ok(fromNode.length > 0, `${node.name} → FRR VXLAN`);
      }
      // FRR's first route for the host's MAC against the host's first unicast frame (a
      // positive lag is what src_mac_advertised_late covers).
      const hostFrames =
        (flows as unknown as { src_mac: string; kind: string; first_time: number }[])
          .filter((x) => x.src_mac === HOST_MAC && x.kind === "unicast").map((x) => x.first_time);
      const routeTimes = (frrRoutes as unknown as { mac?: string; first_time: number | null }[])
        .filter((r) => r.mac?.toLowerCase() === HOST_MAC && r.first_time !== null)
        .map((r) => r.first_time!);
      const routeTime = routeTimes.length > 0 ? Math.min(...routeTimes) : null;
      if (hostFrames.length > 0 && routeTime !== null) {
        const lag = (routeTime - Math.min(...hostFrames)) * 1000;
        console.log(`FRR verify: host route ${lag.toFixed(1)} ms after its first unicast frame`);
      }
      const frrFindings = findings.filter((x) =>
        x.src_vtep === v.vtepIp || x.dst_vtep === v.vtepIp
      );
      console.log(
        `FRR verify: ${frrRoutes.length} FRR route(s), ${flows.length} flow(s), findings about FRR's VTEP: ${
          frrFindings.map((x) => `${x.severity} ${x.kind}`).join(", ") || "none"
        }`,
      );
    });

    await t.step(
      "4. B4 recipe (PYTHONHASHSEED, fixed host name): MAC-only route elected, host ↔ pods work",
      async () => {
        const hostname = "frr-node";
        const nodes = [];
        for (const node of [n1, n2]) {
          const { worker, reprs } = await hostRouteReprs(node.logFile);
          const macOnly = reprs.find((r) => r.includes(`${HOST_MAC.toUpperCase()}/48::`));
          const macIp = reprs.find((r) => r.includes(`/48:${HOST_IP}:`));
          assert.ok(
            worker && macOnly && macIp,
            `${node.name} logged both of FRR's routes: ${reprs}`,
          );
          nodes.push({ worker, macOnly, macIp });
        }
        const seed = await seedElectingMacOnly(hostname, nodes);
        assert.ok(seed !== undefined, "a hash seed electing the MAC-only route on both nodes");
        console.log(`FRR B4 recipe: PYTHONHASHSEED=${seed}, hostname ${hostname}`);
        for (const node of [n1, n2]) {
          await f.restartDaemon(node, { env: { PYTHONHASHSEED: String(seed) }, hostname });
          await f.waitEstablished(node, 120_000);
          const resync = await cluster.resync(node);
          assert.equal(resync.code, 0, resync.stdout + resync.stderr);
        }
        for (const node of [n1, n2]) {
          let elected = "";
          const ms = await until(async () => {
            elected = await hostBestRoute(f, node);
            return elected === "mac-only";
          }, 60_000);
          assert.ok(ms !== undefined, `B4 state on ${node.name}: MAC-only best (got ${elected})`);
        }
        // Cold ARP caches on both sides, as in B4's report.
        await f.exec(v.hostNetns!, ["ip", "neigh", "flush", "all"]);
        for (const pod of pods) await f.exec(pod.netns, ["ip", "neigh", "flush", "all"]);
        for (const pod of pods) {
          const ms = await until(() => hostPing(f, v, pod.ip), 60_000);
          console.log(
            `FRR B4 host-to-${pod.node.name} ${
              ms === undefined ? "timeout" : `${ms} ms`
            } (MAC-only route elected)`,
          );
          assert.ok(ms !== undefined, `with B4's election, host still reaches ${pod.ip}`);
          await f.exec(pod.netns, ["ip", "neigh", "flush", "all"]);
          assert.ok(
            await cluster.pingUntil(pod, HOST_IP, 20_000) !== undefined,
            `and ${pod.ip} reaches the host`,
          );
        }
      },
    );

    await t.step("5. deleting the pods withdraws their routes from FRR", async () => {
      for (const pod of [...cluster.pods]) await cluster.delPod(pod);
      const gone = await until(async () => {
        const routes = (await v.vtysh(`show evpn mac vni ${VNI}`)).toLowerCase();
        return pods.every((p) => !routes.includes(p.mac.toLowerCase()));
      }, 30_000);
      assert.ok(gone !== undefined, "FRR dropped the pods' MACs");
    });
  } finally {
    await capture?.stop().catch(() => {});
    await fabric?.teardown();
    await Deno.remove(workDir, { recursive: true });
  }
  const left = (await listNetns()).filter((n) => id && n.startsWith(id));
  assert.deepEqual(left, [], "every namespace is gone");
  assert.deepEqual(fabric ? await fabric.pids() : [], [], "every fabric process is gone");
  assert.deepEqual(frr?.pids() ?? [], [], "zebra and bgpd are gone");
  for (const pid of frrPids) {
    assert.equal(
      await Deno.stat(`/proc/${pid}`).then(() => true, () => false),
      false,
      `pid ${pid}`,
    );
  }
  assert.deepEqual(await frrVarTmpOf(frrPids), [], "no /var/tmp/frr leftovers");
});
