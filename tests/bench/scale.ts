/**
 * `deno task bench scale`: a node at full scale on the real fabric (4 nodes, stock bagpipe-bgp,
 * GoBGP reflector). Phases: on every node 60 pods in bursts of 30 concurrent ADDs (kubelet after a
 * drain); then 50 pods per node deleted and re-created (host-local's range is 70 addresses, so
 * addresses are reused); then node 1's daemon restarts while 10 pods are added on it and
 * `resync` runs. Prints ADD latency and failures per phase, fabric-wide convergence (ADD returned
 * → the pod's MAC installed on every other node), routes per node, the daemons' RSS and CPU,
 * and the plugin's peak RSS. Heavy: never part of `deno task test`.
 */
import { startFabric } from "../../lib/fabric/fabric.ts";
import type { FabricNode } from "../../lib/fabric/topology.ts";
import { run } from "../../lib/net/run.ts";
import { Cluster, type Network } from "../helpers/cluster.ts";
import { bench, p50, p99 } from "./stats.ts";

// BENCH_SCALE_PODS / _BURST / _REUSED / _RESTART_ADDS shrink it for a quick try of the bench.
const setting = (name: string, fallback: number) =>
  Number(Deno.env.get(`BENCH_SCALE_${name}`) ?? fallback);
const PODS_PER_NODE = setting("PODS", 60), BURST = setting("BURST", 30);
const REUSED_PER_NODE = setting("REUSED", 50), RESTART_ADDS = setting("RESTART_ADDS", 10);
const NET: Network = {
  name: "scale",
  instance: "scale",
  rt: "64512:4000",
  prefix: "10.140",
  vni: 4000,
  // Room for the pods and the restart phase's, no more: re-created pods reuse addresses.
  range: [10, 10 + PODS_PER_NODE + RESTART_ADDS - 1],
};

interface ScalePod {
  node: FabricNode;
  containerId: string;
  netns: string;
  mac?: string;
  /** performance.now() when its ADD returned. */
  addedAt?: number;
}

interface Outcome {
  ms: number;
  ok: boolean;
  rssMib: number;
  detail: string;
}

/** Runs the scale benchmark and prints its figures. */
export async function benchScale(): Promise<void> {
  const fabric = await startFabric({ nodes: 4, readyTimeoutMs: 300_000 });
  const stopWatching = { stop: false };
  let watching: Promise<void> | undefined;
  try {
    const cluster = await Cluster.create(fabric);
    const nodes = fabric.nodes;
    const conf = (node: FabricNode) => cluster.config(node, NET);
    let count = 0;

    /** One plugin run as kubelet would, under GNU time for its peak RSS. */
    const cni = async (pod: ScalePod, command: "ADD" | "DEL"): Promise<Outcome> => {
      const started = performance.now();
      const out = await run("ip", [
        "netns",
        "exec",
        pod.node.name,
        "/usr/bin/time",
        "-f",
        "peak-rss-kib %M",
        "env",
        "-i",
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        `CNI_COMMAND=${command}`,
        `CNI_CONTAINERID=${pod.containerId}`,
        `CNI_NETNS=${pod.netns}`,
        "CNI_IFNAME=eth0",
        `CNI_PATH=${cluster.binDirs[pod.node.index - 1]}:/usr/lib/cni`,
        cluster.plugin(pod.node),
      ], { stdin: JSON.stringify(conf(pod.node)) });
      const ms = performance.now() - started;
      const rss = /peak-rss-kib (\d+)/.exec(out.stderr)?.[1];
      if (out.code === 0 && command === "ADD") {
        pod.mac = (JSON.parse(out.stdout) as { interfaces: { mac: string }[] }).interfaces[1]!.mac;
        pod.addedAt = performance.now();
      }
      return { ms, ok: out.code === 0, rssMib: Number(rss ?? NaN) / 1024, detail: out.stdout };
    };
    const newPod = async (node: FabricNode): Promise<ScalePod> => {
      const n = count++;
      return { node, containerId: `scale${n}`, netns: await fabric.addPodNetns(node, `s${n}`) };
    };

    // Remote MACs installed on each node (`bridge fdb` entries with a VTEP), polled.
    const appeared = nodes.map(() => new Map<string, number>());
    const present = nodes.map(() => new Set<string>());
    watching = (async () => {
      while (!stopWatching.stop) {
        await Promise.all(nodes.map(async (node, i) => {
          const out = await fabric.exec(node.name, ["bridge", "fdb", "show"]);
          const now = performance.now();
          const macs = new Set(
            out.stdout.split("\n").filter((l) => l.includes(" dst ")).map((l) => l.split(" ")[0]!)
              .filter((mac) => mac !== "00:00:00:00:00:00"),
          );
          for (const mac of macs) if (!present[i]!.has(mac)) appeared[i]!.set(mac, now);
          present[i] = macs;
        }));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    /** Waits until every pod's MAC is on every other node; per pod, ms from ADD to the last. */
    const converge = async (pods: ScalePod[], since?: number): Promise<number[]> => {
      const deadline = performance.now() + 180_000;
      const done = (p: ScalePod) => nodes.every((n, i) => n === p.node || present[i]!.has(p.mac!));
      while (!pods.every(done) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      return pods.filter(done).map((p) =>
        Math.max(
          0,
          ...nodes.map((n, i) =>
            n === p.node ? 0 : appeared[i]!.get(p.mac!)! - (since ?? p.addedAt!)
          ),
        )
      );
    };
    const daemonUsage = async () => {
      const pids = await fabric.pids();
      return await Promise.all(nodes.map(async (node) => {
        let rssMib = 0, cpuS = 0, hwmMib = 0;
        for (const pid of pids) {
          try {
            const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
            if (!cmdline.includes(`${node.workDir}/`) || cmdline.includes("/cni/")) continue;
            const status = await Deno.readTextFile(`/proc/${pid}/status`);
            rssMib += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
            hwmMib += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
            const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1]!.split(" ");
            cpuS += (Number(stat[11]) + Number(stat[12])) / 100;
          } catch {
            // exited meanwhile
          }
        }
        return { rssMib, hwmMib, cpuS };
      }));
    };
    const report = (phase: string, adds: Outcome[], converged: number[], expected: number) => {
      const ok = adds.filter((a) => a.ok);
      bench(`scale_${phase}_add_ms_p50`, p50(ok.map((a) => a.ms)), "ms");
      bench(`scale_${phase}_add_ms_p99`, p99(ok.map((a) => a.ms)), "ms");
      bench(`scale_${phase}_add_failures`, adds.length - ok.length, `of ${adds.length}`);
      bench(`scale_${phase}_converge_ms_p50`, p50(converged), "ms");
      bench(`scale_${phase}_converge_ms_p99`, p99(converged), "ms");
      bench(`scale_${phase}_converged`, converged.length, `of ${expected}`);
      for (const failure of adds.filter((a) => !a.ok).slice(0, 3)) {
        console.log(`# ${phase} failure: ${failure.detail.trim().slice(0, 300)}`);
      }
    };
    const cpuBefore = await daemonUsage();
    const rss: number[] = [];

    // Phase 1: 60 pods per node, in bursts of 30 concurrent ADDs, all nodes at once.
    const pods: ScalePod[] = [];
    const burstAdds: Outcome[] = [];
    for (let b = 0; b < PODS_PER_NODE / BURST; b++) {
      const batch = await Promise.all(
        nodes.flatMap((node) => Array.from({ length: BURST }, () => newPod(node))),
      );
      const outcomes = await Promise.all(batch.map((p) => cni(p, "ADD")));
      burstAdds.push(...outcomes);
      pods.push(...batch.filter((_, i) => outcomes[i]!.ok));
    }
    rss.push(...burstAdds.map((a) => a.rssMib));
    report("burst", burstAdds, await converge(pods), pods.length);
    const routes = present.map((s) => s.size);

    // Phase 2: 50 pods per node deleted, then 50 new ones (host-local reuses their addresses).
    const doomed = nodes.flatMap((node) =>
      pods.filter((p) => p.node === node).slice(0, REUSED_PER_NODE)
    );
    const dels = await inBursts(doomed, (p) => cni(p, "DEL"));
    const firstDelFailures = dels.filter((d) => !d.ok);
    // kubelet retries a failed DEL; count the first attempts, retry so addresses come back.
    for (const [i, d] of dels.entries()) {
      for (let retry = 0; !d.ok && retry < 3; retry++) d.ok = (await cni(doomed[i]!, "DEL")).ok;
    }
    const reborn = await Promise.all(doomed.map((p) => newPod(p.node)));
    const reAdds = await inBursts(reborn, (p) => cni(p, "ADD"));
    const reused = reborn.filter((_, i) => reAdds[i]!.ok);
    rss.push(...reAdds.map((a) => a.rssMib));
    report("reuse", reAdds, await converge(reused), reused.length);
    bench("scale_reuse_del_failures", firstDelFailures.length, `of ${dels.length}`);
    bench("scale_reuse_del_failures_after_retries", dels.filter((d) => !d.ok).length, "");
    for (const failure of firstDelFailures.slice(0, 3)) {
      console.log(`# DEL failure: ${failure.detail.trim().slice(0, 300)}`);
    }
    bench("scale_reuse_del_ms_p50", p50(dels.map((d) => d.ms)), "ms");
    bench("scale_reuse_del_ms_p99", p99(dels.map((d) => d.ms)), "ms");

    // CPU and memory before the restart (it resets node 1's counters).
    const usage = await daemonUsage();

    // Phase 3: node 1's daemon restarts; 10 ADDs on it and `resync` right after.
    const node1 = nodes[0]!;
    const restartStarted = performance.now();
    await fabric.restartDaemon(node1);
    const upAt = performance.now();
    const fresh = await Promise.all(Array.from({ length: RESTART_ADDS }, () => newPod(node1)));
    const [restartAdds, resync] = await Promise.all([
      Promise.all(fresh.map((p) => cni(p, "ADD"))),
      cluster.resync(node1),
    ]);
    const resyncMs = performance.now() - upAt;
    const node1Pods = [...pods, ...reused].filter((p) => p.node === node1 && !doomed.includes(p));
    const back = await converge(node1Pods, upAt);
    report("restart", restartAdds, back, node1Pods.length);
    bench("scale_restart_daemon_up_ms", upAt - restartStarted, "ms");
    bench("scale_restart_resync_ms", resyncMs, `ms (exit ${resync.code})`);

    for (const [i, node] of nodes.entries()) {
      bench(`scale_routes_n${node.index}`, routes[i]!, "remote MACs after phase 1");
      bench(
        `scale_bagpipe_rss_mib_n${node.index}`,
        usage[i]!.rssMib,
        "MiB (daemon + privsep helper, after phase 2)",
      );
      bench(`scale_bagpipe_peak_rss_mib_n${node.index}`, usage[i]!.hwmMib, "MiB");
      bench(
        `scale_bagpipe_cpu_s_n${node.index}`,
        usage[i]!.cpuS - cpuBefore[i]!.cpuS,
        "s (phases 1 and 2)",
      );
    }
    const measured = rss.filter(Number.isFinite);
    bench("scale_plugin_peak_rss_mib_p50", p50(measured), "MiB");
    bench("scale_plugin_peak_rss_mib_max", Math.max(...measured), "MiB");
  } finally {
    stopWatching.stop = true;
    await watching;
    await fabric.teardown();
  }
}

/** Runs `fn` over items, `BURST` at a time per node, all nodes at once. */
async function inBursts<T extends { node: FabricNode }, R>(
  items: T[],
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const byNode = new Map<FabricNode, number[]>();
  items.forEach((item, i) => byNode.set(item.node, [...(byNode.get(item.node) ?? []), i]));
  const rounds = Math.max(...[...byNode.values()].map((l) => Math.ceil(l.length / BURST)));
  for (let r = 0; r < rounds; r++) {
    const slice = [...byNode.values()].flatMap((l) => l.slice(r * BURST, (r + 1) * BURST));
    await Promise.all(slice.map(async (i) => results[i] = await fn(items[i]!)));
  }
  return results;
}

if (import.meta.main) await benchScale();
