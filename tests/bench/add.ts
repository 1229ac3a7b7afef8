/**
 * `deno task bench add`: our ADD and DEL against the reference Go `bridge` plugin (+ host-local)
 * in the same run, in a node netns created here. Prints `BENCH <name> <value> <unit>` lines.
 */
import { installPlugin, ip, uniqueName } from "../helpers/plugin.ts";
import { launcherLine } from "../../lib/cli/install/launcher.ts";
import { bench, p50 } from "./stats.ts";

/** Runs the plugin-core benchmark and prints its figures. */
export async function benchAdd(rounds = 30): Promise<void> {
  const node = uniqueName("bench");
  const dir = await Deno.makeTempDir({ prefix: `${node}-` });
  await ip("netns", "add", node);
  try {
    await ip("-n", node, "link", "set", "lo", "up");
    const binDir = await installPlugin(dir);
    // The runtime's floor: the same deno, launched the same way, running an empty script.
    const floor = `${dir}/empty`;
    await Deno.writeTextFile(floor, `${launcherLine(`${binDir}/bagpipe-deno`, `${dir}/cache`)}\n`, {
      mode: 0o755,
    });
    // The least any plugin on this design does (see add_skeleton.js), launched the same way.
    const skeleton = `${dir}/skeleton`;
    const skeletonCode = await Deno.readTextFile(new URL("./add_skeleton.js", import.meta.url));
    await Deno.writeTextFile(
      skeleton,
      `${launcherLine(`${binDir}/bagpipe-deno`, `${dir}/cache`)}\n${skeletonCode}`,
      {
        mode: 0o755,
      },
    );
    const worker = new URL("./add_worker.ts", import.meta.url).pathname;
    const out = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        node,
        Deno.execPath(),
        "run",
        "-A",
        worker,
        "--plugin",
        `${binDir}/bagpipe`,
        "--floor",
        floor,
        "--skeleton",
        skeleton,
        "--dir",
        dir,
        "--prefix",
        node,
        "--rounds",
        String(rounds),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (out.code !== 0) throw new Error("bench worker failed");
    const { samples, parallel } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      samples: Record<string, number[]>;
      parallel: Record<string, number[]>;
    };
    const add = p50(samples.ours_add!),
      bridgeAdd = p50(samples.bridge_add!),
      floorMs = p50(samples.floor!),
      skeletonAdd = p50(samples.skeleton_add!);
    const del = p50(samples.ours_del!), bridgeDel = p50(samples.bridge_del!);
    const par = p50(parallel.ours!), bridgePar = p50(parallel.bridge!);
    console.log(`# ${rounds} rounds, interleaved; parallel: 16 ADDs at once, 3 rounds`);
    bench("add_ms_p50", add, "ms");
    bench("bridge_add_ms_p50", bridgeAdd, "ms");
    bench("deno_floor_ms_p50", floorMs, "ms");
    bench("add_vs_bridge_ratio", add / bridgeAdd, "x");
    bench("add_overhead_vs_bridge_ratio", (add - floorMs) / bridgeAdd, "x");
    // The same ratio for the skeleton: the lowest any Deno.Command plugin can reach here.
    bench("skeleton_add_ms_p50", skeletonAdd, "ms");
    bench("skeleton_overhead_vs_bridge_ratio", (skeletonAdd - floorMs) / bridgeAdd, "x");
    bench("add_vs_skeleton_ms", add - skeletonAdd, "ms");
    bench("del_ms_p50", del, "ms");
    bench("bridge_del_ms_p50", bridgeDel, "ms");
    bench("del_vs_bridge_ratio", del / bridgeDel, "x");
    bench("add_parallel16_ms_p50", par, "ms");
    bench("bridge_add_parallel16_ms_p50", bridgePar, "ms");
    bench("add_parallel16_vs_bridge_ratio", par / bridgePar, "x");
  } finally {
    // Pods the worker left after a failure, then the node (which takes the bridge with it).
    for (const line of (await ip("netns", "list")).split("\n")) {
      const name = line.split(" ")[0];
      if (name && name.startsWith(`${node}-p`)) await ip("netns", "del", name).catch(() => {});
    }
    await ip("netns", "del", node).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await benchAdd();
