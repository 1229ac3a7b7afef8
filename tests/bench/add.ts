/**
 * `deno task bench add`: our ADD and DEL against the reference Go `bridge` plugin (+ host-local)
 * in the same run, in a node netns created here. Prints `BENCH <name> <value> <unit>` lines.
 */
import { installPlugin, ip, uniqueName } from "../helpers/plugin.ts";
import { launcherLine } from "../../lib/cli/install/launcher.ts";
import { run } from "../../lib/net/run.ts";
import { bench, p50, p99, pairedP50 } from "./stats.ts";

/** The JSON lines of a plugin log. */
async function logLines(logFile: string): Promise<
  {
    msg?: string;
    command?: string;
    containerId?: string;
    ms?: number;
    startupMs?: number;
    steps?: Record<string, number>;
  }[]
> {
  const text = await Deno.readTextFile(logFile).catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** Installs another build's plugin bundle into its own CNI bin dir; the plugin's path. */
async function installBaseline(bundle: string, dir: string): Promise<string> {
  const binDir = `${dir}/base-bin`;
  const out = await run(Deno.execPath(), [
    "run",
    "-A",
    bundle,
    "install",
    "--cni-bin-dir",
    binDir,
    "--cache-dir",
    `${dir}/base-cache`,
  ]);
  if (out.code !== 0) throw new Error(`baseline install failed: ${out.stderr}${out.stdout}`);
  return `${binDir}/bagpipe`;
}

/** Runs the plugin-core benchmark and prints its figures. */
export async function benchAdd(rounds = 30, bursts = 3): Promise<void> {
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
    // BENCH_BASELINE_PLUGIN: another build's plugin bundle (e.g. main's dist/bagpipe-cni.js),
    // measured in the same run as "before".
    const baselineBundle = Deno.env.get("BENCH_BASELINE_PLUGIN");
    const baseline = baselineBundle ? await installBaseline(baselineBundle, dir) : undefined;
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
        ...(baseline ? ["--baseline", baseline] : []),
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
        "--bursts",
        String(bursts),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (out.code !== 0) throw new Error("bench worker failed");
    const { samples, rss, cpu, burst, burstWall, burstMem } = JSON.parse(
      new TextDecoder().decode(out.stdout),
    ) as Record<string, Record<string, number[]>>;
    const m = (name: string) => p50(samples![name]!);
    const floorMs = m("floor"), skeletonAdd = m("skeleton_add");
    const bridgeAdd = m("bridge_add"), bridgeDel = m("bridge_del");
    console.log(
      `# ${rounds} rounds, interleaved; stand-in daemon on loopback (answers at once, plugs the ` +
        `port); bursts: 30 ADDs at once${baseline ? `; "base_": ${baselineBundle}` : ""}`,
    );
    bench("bridge_add_ms_p50", bridgeAdd, "ms");
    bench("bridge_del_ms_p50", bridgeDel, "ms");
    bench("deno_floor_ms_p50", floorMs, "ms");
    bench("skeleton_add_ms_p50", skeletonAdd, "ms");
    bench("skeleton_overhead_vs_bridge_ratio", (skeletonAdd - floorMs) / bridgeAdd, "x");
    // With the daemon call (what users get), then with backend "none", then the baseline build.
    for (const [prefix, kind] of [["", "attach"], ["none_", "none"], ["base_", "base"]]) {
      if (!samples![`${kind}_add`]) continue;
      const add = m(`${kind}_add`), del = m(`${kind}_del`);
      bench(`${prefix}add_ms_p50`, add, "ms");
      if (kind !== "none") bench(`${prefix}add_attach_vs_skeleton_ms`, add - skeletonAdd, "ms");
      else bench("none_add_vs_skeleton_ms", add - skeletonAdd, "ms");
      // The same, paired per round.
      bench(
        `${prefix}add_${kind === "none" ? "" : "attach_"}vs_skeleton_paired_ms`,
        pairedP50(samples![`${kind}_add`]!, samples!.skeleton_add!),
        "ms",
      );
      bench(`${prefix}add_overhead_vs_bridge_ratio`, (add - floorMs) / bridgeAdd, "x");
      bench(`${prefix}del_ms_p50`, del, "ms");
      bench(`${prefix}del_overhead_vs_bridge_ratio`, (del - floorMs) / bridgeDel, "x");
      bench(`${prefix}add_peak_rss_mib`, Math.max(...rss![kind]!), "MiB");
      bench(`${prefix}add_cpu_ms_p50`, p50(cpu![kind]!), "ms (user+sys, children included)");
      // The plugin's own step log: what the daemon call costs inside ADD.
      // Only the interleaved rounds' ADDs (container ids "<kind>-<n>"), not the RSS or burst runs.
      const log = (await logLines(`${dir}/bench${kind}.log`)).filter((l) =>
        new RegExp(`^${kind}-\\d+$`).test(l.containerId ?? "")
      );
      const added = log.filter((l) => l.msg === "added").map((l) => l.steps?.attach);
      const done = log.filter((l) => l.msg === "done" && l.command === "ADD");
      if (kind !== "none") {
        bench(
          `${prefix}add_attach_step_ms_p50`,
          p50(added.filter((n) => n !== undefined)),
          "ms",
        );
      }
      bench(`${prefix}add_startup_ms_p50`, p50(done.map((l) => l.startupMs!)), "ms");
      bench(`${prefix}add_in_plugin_ms_p50`, p50(done.map((l) => l.ms!)), "ms");
    }
    // What the daemon call adds to an ADD, all of it (identity check, connection, exchange,
    // hairpin): each round's ADD with it minus the one with backend "none".
    bench(
      "add_daemon_call_paired_ms",
      pairedP50(samples!.attach_add!, samples!.none_add!),
      "ms",
    );
    bench("bridge_add_peak_rss_mib", Math.max(...rss!.bridge!), "MiB");
    bench("bridge_add_cpu_ms_p50", p50(cpu!.bridge!), "ms (user+sys, children included)");
    bench("deno_floor_cpu_ms_p50", p50(cpu!.floor!), "ms");
    for (const [prefix, kind] of [["", "attach"], ["base_", "base"], ["bridge_", "bridge"]]) {
      if (!burst![kind]) continue;
      bench(`${prefix}add_burst30_ms_p50`, p50(burst![kind]!), "ms");
      bench(`${prefix}add_burst30_ms_p99`, p99(burst![kind]!), "ms");
      bench(`${prefix}burst30_wall_ms_p50`, p50(burstWall![kind]!), "ms");
      bench(`${prefix}burst30_node_mem_rise_mib`, Math.max(...burstMem![kind]!), "MiB");
      if (kind !== "bridge") {
        bench(
          `${prefix}add_burst30_vs_bridge_ratio`,
          p99(burst![kind]!) / p99(burst!.bridge!),
          "x",
        );
      }
    }
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
