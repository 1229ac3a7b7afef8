/**
 * Two datacenters on the real daemons: DC1 and DC2 each with their own underlay segment, GoBGP
 * route reflector and two bagpipe-bgp nodes; the reflectors peer over iBGP (one AS, a cluster id
 * each) across a router netns. One fabric for every step. Step 5 is issue #16's cross-DC Service:
 * kube-proxy's rules on a DC1 node for a ClusterIP whose only endpoint is a DC2 pod. Connectivity
 * is asserted with bounded retries; convergence and outage figures are printed, never asserted.
 */
import assert from "node:assert/strict";
import { type Fabric, startFabric } from "../lib/fabric/fabric.ts";
import type { Capture } from "../lib/fabric/capture.ts";
import { type FlowCheck, formatOutcomes, runFlowChecks } from "../lib/fabric/flow_checks.ts";
import {
  applyKubeProxyRules,
  kubeProxyRules,
  type ServiceSpec,
} from "../lib/fabric/kube_proxy_rules.ts";
import { execInNetns, listNetns } from "../lib/fabric/netns.ts";
import { startProbeServer } from "../lib/fabric/probe.ts";
import { Cluster, type Network, type Pod } from "./helpers/cluster.ts";
import { dc1only, span } from "./helpers/two_dc_networks.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** DC2's network on the same subnet as dc1only but its own route target. */
const dc2other: Network = {
  name: "dc2other",
  instance: "dc2other",
  rt: "64512:602",
  vni: 602,
  prefix: "10.41",
};

/** The cross-DC Service's ClusterIP and its backend's ports (step 5). */
const SVC_IP = "10.96.0.21";
const WEB = 8080;
const DNS = 5353;

function figure(name: string, ms: number | undefined, what: string): void {
  console.log(`TWO-DC ${name} ${ms === undefined ? "timeout" : `${ms} ms`} (${what})`);
}

/** UPDATE messages both reflectors sent and received so far, on every session. */
async function updateCount(f: Fabric): Promise<number> {
  let total = 0;
  for (const dc of f.dcs) {
    const out = await f.gobgp(dc.index, ["neighbor", "-j"]);
    type Counts = { update?: number | string };
    type Peer = { state?: { messages?: { sent?: Counts; received?: Counts } } };
    for (const peer of JSON.parse(out.stdout) as Peer[]) {
      const m = peer.state?.messages;
      total += Number(m?.sent?.update ?? 0) + Number(m?.received?.update ?? 0);
    }
  }
  return total;
}

/** RT membership (RTC) routes the node's bagpipe-bgp logged receiving since it started. */
async function rtcRoutesReceived(node: Fabric["nodes"][number]): Promise<number> {
  const text = await Deno.readTextFile(node.logFile);
  return text.split("\n").filter((line) => line.includes("Received an RTC route")).length;
}

/** Polls check until it returns true or timeoutMs passes; the ms it took, or undefined. */
async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  since = performance.now(),
): Promise<number | undefined> {
  while (performance.now() - since < timeoutMs) {
    if (await check()) return Math.round(performance.now() - since);
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

Deno.test("two datacenters: pods across DCs, RT isolation, RTC, reflector outage, cross-DC Service", async (t) => {
  let fabric: Fabric | undefined;
  let capture: Capture | undefined;
  let pcap = "";
  let id = "";
  // The fabric's dir and the capture (started by the fabric before any daemon) live here.
  const workDir = await Deno.makeTempDir({ prefix: "bcni-two-dc-" });
  try {
    // Shared machine: bagpipe-bgp took up to 3 minutes to answer /ping under heavy load.
    pcap = `${workDir}/inter-dc.pcap`;
    fabric = await startFabric({
      topology: "two-dc",
      workDir,
      captureAtStart: { file: pcap, where: "inter-dc" },
      nodesPerDc: [2, 2],
      readyTimeoutMs: 300_000,
      onStep: (m) => console.log(`  ${m}`),
    });
    id = fabric.id;
    const f = fabric;
    const [n1, n2, n3, n4] = f.nodes as [
      typeof f.nodes[0],
      typeof f.nodes[0],
      typeof f.nodes[0],
      typeof f.nodes[0],
    ];
    assert.deepEqual(f.nodes.map((n) => n.dc), [1, 1, 2, 2]);
    const cluster = await Cluster.create(f);
    capture = f.initialCapture;
    const pods: Record<string, Pod> = {};

    await t.step("1. pods in DC1 reach pods in DC2 and back", async () => {
      pods.a1 = await cluster.addPod(n1, span);
      pods.a2 = await cluster.addPod(n2, span);
      pods.b1 = await cluster.addPod(n3, span);
      pods.b2 = await cluster.addPod(n4, span);
      const ms = await cluster.pingUntil(pods.a1, pods.b1.ip, 60_000);
      figure("converge-dc1-to-dc2", ms, "last ADD returned → DC1 pod's ping to DC2 pod answered");
      assert.ok(ms !== undefined, `${pods.a1.ip} (DC1) cannot reach ${pods.b1.ip} (DC2)`);
      for (
        const [from, to] of [["b1", "a1"], ["a2", "b2"], ["b2", "a2"], ["a1", "a2"], ["b1", "b2"]]
      ) {
        assert.ok(
          await cluster.pingUntil(pods[from]!, pods[to]!.ip, 20_000) !== undefined,
          `${from} ${pods[from]!.ip} → ${to} ${pods[to]!.ip}`,
        );
      }
      // Next hops stay the originating node's VTEP across the reflectors: DC2's node tunnels
      // straight to DC1's node (through the router), not to a reflector.
      const fdb = await f.exec(n3.name, ["bridge", "fdb", "show", "dev", "bpvx-span"]);
      assert.match(
        fdb.stdout,
        new RegExp(`${pods.a1.mac}.* dst ${n1.underlayIp.replaceAll(".", "\\.")}`, "i"),
        `n3's fdb sends a1's MAC to n1's VTEP:\n${fdb.stdout}`,
      );
    });

    await t.step(
      "2. a network imported only in DC1 is unreachable from DC2; RTC keeps its routes in DC1",
      async () => {
        const p = await cluster.addPod(n1, dc1only);
        const q = await cluster.addPod(n2, dc1only);
        assert.ok(
          await cluster.pingUntil(q, p.ip, 30_000) !== undefined,
          "dc1only pods reach each other",
        );
        // Same subnet in DC2, another route target: it must not reach p.
        const r = await cluster.addPod(n3, dc2other);
        assert.equal(await cluster.ping(r, p.ip), false, `DC2's ${r.ip} must not reach ${p.ip}`);
        const hasRoute = async (dc: number, mac: string) => {
          const rib = await f.gobgp(dc, ["global", "rib", "-a", "evpn"]);
          return rib.stdout.toLowerCase().includes(mac.toLowerCase());
        };
        assert.ok(await hasRoute(1, p.mac), "DC1's reflector has p's route");
        // RTC inside DC2: no DC2 node imports 64512:601, so DC2's reflector sends them nothing
        // of it, although it holds the routes (the inter-DC session carries no rtc: see
        // config/gobgpd-peer-reflector.toml for why).
        const sentTo = async (node: typeof n3, mac: string) => {
          const out = await f.gobgp(2, ["neighbor", node.underlayIp, "adj-out", "-a", "evpn"]);
          return out.stdout.toLowerCase().includes(mac.toLowerCase());
        };
        const dc2HasIt = await hasRoute(2, p.mac);
        console.log(`  DC2's reflector holds p's route: ${dc2HasIt}`);
        for (const node of [n3, n4]) {
          assert.equal(
            await sentTo(node, p.mac),
            false,
            `DC2's reflector sent p's route to ${node.name}`,
          );
          assert.equal(
            await sentTo(node, q.mac),
            false,
            `DC2's reflector sent q's route to ${node.name}`,
          );
          assert.ok(await sentTo(node, pods.a1!.mac), `while ${node.name} does get span's routes`);
        }
        const seenOnN3 = await f.api(
          n3,
          "GET",
          "/looking-glass/vpns/instances/dc2other/received_routes",
        );
        assert.ok(!JSON.stringify(seenOnN3.body).toUpperCase().includes(p.mac.toUpperCase()));
        // DC2's RT membership table holds its nodes' memberships (span's; dc2other's, which
        // arrives after r's ADD) and none for 64512:601.
        let rtc = "";
        const rtcMs = await until(async () => {
          const out = await f.gobgp(2, ["global", "rib", "-a", "rtc"]);
          rtc = out.stdout + out.stderr;
          return rtc.includes("64512:64512:600") && rtc.includes("64512:64512:602");
        }, 30_000);
        console.log(`  DC2 reflector's RT membership table:\n${rtc}`);
        assert.ok(rtcMs !== undefined, "DC2's reflector holds span's and dc2other's memberships");
        assert.ok(!rtc.includes("64512:601"), "no RT membership for 64512:601 in DC2");

        // Control: once a DC2 node imports 64512:601, its reflector sends it the routes and the
        // pod is reached, so the absence above was RTC, not a broken session.
        const since = performance.now();
        const s = await cluster.addPod(n4, dc1only);
        const ms = await until(() => sentTo(n4, p.mac), 60_000, since);
        figure(
          "rtc-import-in-dc2",
          ms,
          "ADD of the first DC2 importer → its reflector sends it the route",
        );
        assert.ok(
          ms !== undefined,
          "n4 receives p's route once it imports 64512:601",
        );
        assert.ok(
          await cluster.pingUntil(s, p.ip, 30_000) !== undefined,
          "and DC2's pod reaches p",
        );

        // No RT membership storm. With rtc on the reflector-to-reflector session, GoBGP 3.10
        // re-sent membership routes without end (config/README.md: ~51,000 UPDATEs a minute
        // between the reflectors while no pod changed). Once nothing changes, the reflectors
        // must send nothing: their UPDATE counters stand still for 5 s.
        const quietMs = await until(async () => {
          const before = await updateCount(f);
          await new Promise((r) => setTimeout(r, 5_000));
          return await updateCount(f) === before;
        }, 60_000);
        figure("rtc-quiet-after", quietMs, "n4's ADD → 5 s without an UPDATE on any session");
        assert.ok(quietMs !== undefined, "the reflectors keep sending UPDATEs on a quiet fabric");
        // And few in all: a node heard one membership route per membership made in its DC (4
        // per DC so far: measured, config/README.md); twice the 8 made in the whole fabric
        // leaves room for reordering, while the loop sent each node thousands a minute.
        const heard = await Promise.all(f.nodes.map((n) => rtcRoutesReceived(n)));
        console.log(`  RTC routes received per node since start: ${heard.join(", ")}`);
        for (const [i, count] of heard.entries()) {
          assert.ok(count <= 2 * 8, `${f.nodes[i]!.name} received ${count} RTC routes (> 16)`);
        }
      },
    );

    await t.step(
      "3. verify on a capture of the inter-DC link explains what crosses it",
      async () => {
        await capture!.stop();
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${ROOT}lib/verify/command.ts`, pcap, "--json"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout);
        const report = JSON.parse(text);
        const human = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${ROOT}lib/verify/command.ts`, pcap],
          stdout: "piped",
        }).output();
        const humanText = new TextDecoder().decode(human.stdout);
        console.log(humanText.split("\n").slice(0, 60).join("\n"));
        // The per-pair summary names the node pairs that talked across the link, unicast apart.
        const [lo, hi] = [n1.underlayIp, n3.underlayIp].sort();
        assert.match(
          humanText,
          new RegExp(`${lo} <-> ${hi}  VNI \\d+  unicast [1-9]\\d*/[1-9]`),
          "verify's text report names n1 <-> n3 with unicast both ways",
        );
        // Head-end replication of unknown unicast (a node floods a frame to every VTEP of the
        // VNI while the MAC's route is not yet in its VXLAN fdb) is a dst_mac_flooded warning
        // when two or more copies cross the link. When only one does (the flood list held one
        // VTEP of the other DC), the copy to the MAC's own VTEP, in the sender's DC, never
        // crosses it, and from this link the lone copy looks like a misdirected frame (seen
        // once in CI: count 1). Only that is tolerated: sender and the MAC's VTEP in one DC, the
        // copy to the other, a few frames at first contact. Every other error fails.
        type Finding = {
          kind: string;
          severity: string;
          src_vtep?: string;
          dst_vtep?: string;
          other_vtep?: string | null;
          count: number;
        };
        const findings = report.findings as Finding[];
        const dcOf = (ip?: string | null) =>
          f.dcs.findIndex((dc) => ip?.startsWith(dc.prefix.replace(/0\/24$/, "")));
        const loneFloodCopy = (x: Finding) =>
          x.kind === "dst_mac_at_other_vtep" && x.count <= 5 &&
          dcOf(x.src_vtep) === dcOf(x.other_vtep) && dcOf(x.dst_vtep) !== dcOf(x.src_vtep);
        const errors = findings.filter((x) => x.severity === "error");
        console.log(
          `  verify: ${
            errors.filter(loneFloodCopy).length
          } lone flood copy/copies across the link (sender and MAC's VTEP in one DC)`,
        );
        console.log(
          `  verify: ${
            findings.filter((x) => x.kind === "dst_mac_flooded").length
          } dst_mac_flooded warning(s) (unknown unicast flooded while a route was being installed)`,
        );
        assert.deepEqual(
          errors.filter((x) => !loneFloodCopy(x)),
          [],
          `verify found the inter-DC capture inconsistent:\n${
            humanText.split("\n").filter((l) => /ERROR|WARNING/.test(l)).join("\n")
          }`,
        );
        assert.equal(out.code, errors.length ? 1 : 0, `verify exited ${out.code}`);
        const rrs = f.dcs.map((dc) => dc.reflector.ip);
        const sessions = report.sessions as { a?: string; b?: string; peers?: string[] }[];
        assert.ok(
          JSON.stringify(sessions).includes(rrs[0]!) && JSON.stringify(sessions).includes(rrs[1]!),
          `the reflector-to-reflector session is in the report: ${JSON.stringify(sessions)}`,
        );
        const routes = JSON.stringify(report.routes).toLowerCase();
        assert.ok(routes.includes(pods.a1!.mac.toLowerCase()), "a1's route crossed the link");
        assert.ok(routes.includes(pods.b1!.mac.toLowerCase()), "b1's route crossed the link");
        const flows = JSON.stringify(report.flows);
        assert.ok(
          flows.includes(n1.underlayIp) && flows.includes(n3.underlayIp),
          `VXLAN between n1 and n3 crossed the link: ${flows.slice(0, 2000)}`,
        );
      },
    );

    await t.step(
      "4. DC2's reflector down: DC1 keeps its traffic; inter-DC traffic is back once it returns",
      async () => {
        const { a1, a2, b1, b2 } = pods as Record<string, Pod>;
        await f.stopReflector(2);
        const stopped = performance.now();
        const lostMs = await until(async () => !(await cluster.ping(a1!, b1!.ip)), 30_000, stopped);
        figure("outage-inter-dc-lost-after", lostMs, "DC2 reflector stopped → a1→b1 unanswered");
        assert.ok(
          await cluster.pingUntil(a1!, a2!.ip, 10_000) !== undefined,
          "DC1 intra-DC traffic works",
        );
        const dc2Intra = await cluster.ping(b1!, b2!.ip);
        console.log(
          `TWO-DC outage-dc2-intra ${
            dc2Intra ? "answered" : "unanswered"
          } (b1→b2 with DC2's reflector down: bagpipe-bgp withdraws a lost peer's routes)`,
        );
        await f.startReflector(2);
        const restarted = performance.now();
        const backMs = await cluster.pingUntil(a1!, b1!.ip, 150_000, restarted);
        figure("outage-inter-dc-back-after", backMs, "DC2 reflector started → a1→b1 answered");
        assert.ok(backMs !== undefined, "inter-DC traffic is back once DC2's reflector returns");
        assert.ok(
          await cluster.pingUntil(b1!, b2!.ip, 30_000) !== undefined,
          "and DC2's own traffic",
        );
        assert.ok(await cluster.pingUntil(a1!, a2!.ip, 10_000) !== undefined, "DC1 still fine");
      },
    );

    await t.step(
      "5. a ClusterIP Service whose only backend is in DC2 answers DC1's pod and node",
      async () => {
        const { a1, b1 } = pods as Record<string, Pod>;
        const podNs = (p: Pod) => p.netns.split("/").at(-1)!;
        const server = await startProbeServer({
          netns: podNs(b1!),
          name: "dc2-web",
          tcp: [WEB],
          udp: [DNS],
          logFile: `${f.workDir}/probe-dc2-web.log`,
        });
        try {
          // kube-proxy on n1, as it writes the Service with its one endpoint on n3 (DC2).
          const clusterCidr = String(
            (cluster.config(n1, span).ipam as Record<string, unknown>).subnet,
          );
          const service: ServiceSpec = {
            name: "svc-dc2",
            clusterIP: SVC_IP,
            ports: [
              { name: "http", port: 80, targetPort: WEB, protocol: "tcp" },
              { name: "dns", port: 53, targetPort: DNS, protocol: "udp" },
            ],
            endpoints: [{ ip: b1!.ip, node: n3.name }],
          };
          const rules = await kubeProxyRules([service], { node: n1.name, clusterCidr });
          await applyKubeProxyRules((argv, stdin) => execInNetns(n1.name, argv, { stdin }), rules);
          const gateway = cluster.gatewayOf(n1, span);
          const isA1 = { expect: `a1's own ${a1!.ip}`, test: (s: string) => s === a1!.ip };
          const isGateway = {
            expect: `n1's gateway ${gateway} (masqueraded)`,
            test: (s: string) => s === gateway,
          };
          const check = (
            group: string,
            from: string,
            protocol: "tcp" | "udp",
            port: number,
            source: FlowCheck["source"],
          ): FlowCheck => ({
            group,
            name: `${group.split(" ")[0]} → svc-dc2 (backend b1 on n3)`,
            from,
            protocol,
            host: SVC_IP,
            port,
            server,
            source,
            nodes: [n1.name, n3.name],
            serverIp: b1!.ip,
          });
          const checks = [
            check("a1 (DC1 pod) → ClusterIP, no NAT", podNs(a1!), "tcp", 80, isA1),
            check("a1 (DC1 pod) → ClusterIP, no NAT", podNs(a1!), "udp", 53, isA1),
            check("n1 (DC1 node) → ClusterIP, masqueraded", n1.name, "tcp", 80, isGateway),
            check("n1 (DC1 node) → ClusterIP, masqueraded", n1.name, "udp", 53, isGateway),
          ];
          const outcomes = await runFlowChecks(checks, { deadlineMs: 30_000, attemptMs: 3_000 });
          const failed = outcomes.filter((o) => !o.ok);
          console.log(
            [`  ${outcomes.length - failed.length} of ${outcomes.length} checks passed`]
              .concat(formatOutcomes(outcomes).map((l) => `  ${l}`)).join("\n"),
          );
          assert.deepEqual(
            failed.map((o) =>
              `${o.check.group} ${o.check.protocol}: ${o.diagnosis?.hop ?? o.problem}`
            ),
            [],
            `${failed.length} of ${outcomes.length} cross-DC Service checks failed (report above)`,
          );
        } finally {
          await server.stop();
        }
      },
    );

    await t.step("6. deleting every pod leaves no lease", async () => {
      for (const pod of [...cluster.pods]) await cluster.delPod(pod);
      for (const node of f.nodes) assert.deepEqual(cluster.leases(node), [], `${node.name} leases`);
    });
  } finally {
    await capture?.stop().catch(() => {});
    await fabric?.teardown();
    await Deno.remove(workDir, { recursive: true });
  }
  const left = (await listNetns()).filter((n) => id && n.startsWith(id));
  assert.deepEqual(left, [], "every namespace of the fabric is gone");
  assert.deepEqual(
    fabric ? await fabric.pids() : [],
    [],
    "every process the fabric started is gone",
  );
});
