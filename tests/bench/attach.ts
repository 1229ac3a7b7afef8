/**
 * ADD against the real daemon on the real fabric: the first pod of a VPN instance on a node (the
 * daemon creates the instance, its bridge and VXLAN device), later pods, and how long after ADD
 * returns a pod on the other node gets its first ping answer. Part of `deno task bench add`.
 */
import { startFabric } from "../../lib/fabric/fabric.ts";
import { Cluster, type Network, type Pod } from "../helpers/cluster.ts";
import { bench, p50, p99 } from "./stats.ts";

/** Runs the attach benchmark and prints its figures. */
export async function benchAttach(rounds = 8): Promise<void> {
  const fabric = await startFabric({ nodes: 2, readyTimeoutMs: 120_000 });
  try {
    const [n1, n2] = [fabric.nodes[0]!, fabric.nodes[1]!];
    const cluster = await Cluster.create(fabric);
    const first: number[] = [], later: number[] = [], converge: number[] = [], floor: number[] = [];
    const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
      const started = performance.now();
      const value = await fn();
      return [value, performance.now() - started];
    };
    // Pings every 10 ms until the first answer (Cluster.pingUntil waits a second per lost ping,
    // which would hide anything between 0 and 1 s); ms from the ADD's return, netns exec included.
    const firstReply = async (from: Pod, to: string): Promise<number | undefined> => {
      const started = performance.now();
      const out = await fabric.exec(from.netns, [
        "ping",
        "-n",
        "-q",
        "-c",
        "1",
        "-i",
        "0.01",
        "-w",
        "10",
        to,
      ]);
      const ms = Math.round(performance.now() - started);
      // A slow first contact is worth its own line: which pod, and how long.
      if (ms > 150) console.error(`# slow first contact: ${from.ip} -> ${to} ${ms} ms`);
      return out.code === 0 ? ms : undefined;
    };
    for (let round = 0; round < rounds; round++) {
      // A new instance per round, so each round has a "first pod of an instance".
      const net: Network = {
        name: `bench${round}`,
        instance: `bench${round}`,
        rt: `64512:${1000 + round}`,
        prefix: `10.${100 + round}`,
        vni: 1000 + round,
      };
      const anchor = await cluster.addPod(n1, net);
      const [pod, firstMs] = await timed(() => cluster.addPod(n2, net));
      first.push(firstMs);
      const reached = await firstReply(anchor, pod.ip);
      if (reached !== undefined) converge.push(reached);
      for (let i = 0; i < 2; i++) {
        const [next, laterMs] = await timed(() => cluster.addPod(n2, net));
        later.push(laterMs);
        const ms = await firstReply(anchor, next.ip);
        if (ms !== undefined) converge.push(ms);
      }
      const [, floorMs] = await timed(() => fabric.exec(n2.name, ["env", "-i", "true"]));
      floor.push(floorMs);
    }
    console.log(
      `# real fabric, stock bagpipe-bgp; ${rounds} instances, 1 first + 2 later pods each;`,
    );
    console.log("# ADD times include launching the plugin with `ip netns exec` (netns_exec_floor)");
    bench("add_with_attach_first_ms_p50", p50(first), "ms");
    bench("add_with_attach_later_ms_p50", p50(later), "ms");
    bench("add_with_attach_ms_p50", p50([...first, ...later]), "ms");
    bench("netns_exec_floor_ms_p50", p50(floor), "ms");
    bench("converge_ms_p50", p50(converge), "ms");
    bench("converge_ms_p99", p99(converge), "ms");
    bench("converge_samples", converge.length, `of ${rounds * 3}`);
  } finally {
    await fabric.teardown();
  }
}

if (import.meta.main) await benchAttach();
