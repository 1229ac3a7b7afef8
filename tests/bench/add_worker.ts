/**
 * Runs INSIDE the bench's node netns (started with `ip netns exec`), so every plugin is spawned
 * the same way, without an `ip netns exec` per call: times our ADD/DEL (with `backend: "none"`,
 * and with its daemon call against a stand-in daemon that answers at once), the reference bridge
 * plugin, the skeleton and the empty script side by side, interleaved; then peak RSS per ADD and
 * bursts of 30 concurrent ADDs. Prints the samples as JSON.
 */
import { parseArgs } from "node:util";
import { run } from "../../lib/net/run.ts";
import { startStandin, stopStandin } from "../helpers/standin.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    plugin: { type: "string" },
    baseline: { type: "string" },
    floor: { type: "string" },
    skeleton: { type: "string" },
    dir: { type: "string" },
    prefix: { type: "string" },
    rounds: { type: "string", default: "30" },
    bursts: { type: "string", default: "3" },
  },
});
const dir = values.dir!, prefix = values.prefix!, rounds = Number(values.rounds);

/** Runs a plugin as a runtime does (clean environment, config on stdin); its wall time in ms. */
async function spawnPlugin(
  binary: string,
  env: Record<string, string>,
  stdin: string,
): Promise<number> {
  const started = performance.now();
  const out = await run(binary, [], { env, stdin, clearEnv: true });
  const ms = performance.now() - started;
  if (out.code !== 0) {
    throw new Error(`${binary} ${env.CNI_COMMAND} failed: ${out.stdout} ${out.stderr}`);
  }
  return ms;
}

/** CPU time (ms, user + sys) and peak RSS (MiB) of one plugin run, its child processes included. */
async function usageOf(
  binary: string,
  env: Record<string, string>,
  stdin: string,
): Promise<{ cpuMs: number; rssMib: number }> {
  const wrapper = new URL("./rusage.py", import.meta.url).pathname;
  // Peak RSS from GNU time, whose child is forked from a small process (a child forked from
  // Python keeps Python's RSS as its peak); CPU from the wrapper, with ~1 ms of time's own.
  const out = await run("/usr/bin/python3", [wrapper, "/usr/bin/time", "-f", "peak %M", binary], {
    env,
    stdin,
    clearEnv: true,
  });
  const cpuMs = /rusage cpu_ms=([\d.]+)/.exec(out.stderr)?.[1];
  const peakKib = /^peak (\d+)$/m.exec(out.stderr)?.[1];
  if (out.code !== 0 || !cpuMs || !peakKib) {
    throw new Error(`${binary} failed: ${out.stdout} ${out.stderr}`);
  }
  return { cpuMs: Number(cpuMs), rssMib: Number(peakKib) / 1024 };
}

async function netns(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args: ["netns", ...args], stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(`ip netns ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

// The stand-in daemon on this netns's loopback.
const standin = await startStandin();
const oursConf = (name: string, backend: "none" | "bagpipe", third: number) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name,
    type: "bagpipe",
    importrt: "64512:90",
    exportrt: "64512:90",
    backend,
    vni: third,
    bagpipeUrl: standin.url,
    vpnInstanceId: name.slice(0, 8),
    stateDir: `${dir}/state-${name}`,
    logFile: `${dir}/${name}.log`,
    ipam: {
      type: "host-local",
      subnet: `10.${third}.0.0/16`,
      rangeStart: `10.${third}.2.1`,
      gateway: `10.${third}.0.1`,
      dataDir: `${dir}/ipam`,
    },
  });
const bridgeConf = JSON.stringify({
  cniVersion: "1.0.0",
  name: "benchbridge",
  type: "bridge",
  bridge: "bcnibr0",
  isGateway: true,
  mtu: 1450,
  ipam: {
    type: "host-local",
    subnet: "10.28.0.0/16",
    rangeStart: "10.28.2.1",
    gateway: "10.28.0.1",
    dataDir: `${dir}/ipam`,
  },
});
const binDir = values.plugin!.slice(0, values.plugin!.lastIndexOf("/"));
const cniPath = `${binDir}:/usr/lib/cni`;
/** Each kind of ADD/DEL measured: ours without and with the daemon call, main's, the Go bridge. */
const kinds = [
  { kind: "none", binary: values.plugin!, conf: oursConf("benchnone", "none", 27) },
  { kind: "attach", binary: values.plugin!, conf: oursConf("benchattach", "bagpipe", 29) },
  ...(values.baseline
    ? [{ kind: "base", binary: values.baseline, conf: oursConf("benchbase", "bagpipe", 30) }]
    : []),
  { kind: "bridge", binary: "/usr/lib/cni/bridge", conf: bridgeConf },
];
type Kind = (typeof kinds)[number];

const samples: Record<string, number[]> = { floor: [], skeleton_add: [] };
for (const { kind } of kinds) {
  samples[`${kind}_add`] = [];
  samples[`${kind}_del`] = [];
}
let pod = 0;
const env = (command: string, kind: string, netnsPath: string, id: number) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: `${kind}-${id}`,
  CNI_NETNS: netnsPath,
  CNI_IFNAME: "eth0",
  CNI_PATH: cniPath,
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
});

// One warm-up round each (first runs fill caches: deno's code cache, the bridges).
try {
  for (let round = -1; round < rounds; round++) {
    // A different order each round, so no kind always follows the same one.
    const order = kinds.map((_, i) => kinds[(i + round + 1) % kinds.length]!);
    for (const { kind, binary, conf } of order) {
      const name = `${prefix}-p${pod++}`;
      await netns("add", name);
      const add = await spawnPlugin(binary, env("ADD", kind, `/run/netns/${name}`, pod), conf);
      const del = await spawnPlugin(binary, env("DEL", kind, `/run/netns/${name}`, pod), conf);
      await netns("del", name);
      if (round >= 0) {
        samples[`${kind}_add`]!.push(add);
        samples[`${kind}_del`]!.push(del);
      }
    }
    const floorStart = performance.now();
    await new Deno.Command(values.floor!, { stdout: "null", stderr: "null" }).output();
    if (round >= 0) samples.floor!.push(performance.now() - floorStart);
    const skeleton = await skeletonAdd(pod++);
    if (round >= 0) samples.skeleton_add!.push(skeleton);
  }

  // CPU time and peak RSS of one ADD (rounds not timed for wall time).
  const rss: Record<string, number[]> = {}, cpu: Record<string, number[]> = {};
  for (let round = 0; round < 10; round++) {
    for (const { kind, binary, conf } of kinds) {
      const name = `${prefix}-p${pod++}`;
      await netns("add", name);
      const usage = await usageOf(
        binary,
        env("ADD", `${kind}-rss`, `/run/netns/${name}`, pod),
        conf,
      );
      (rss[kind] ??= []).push(usage.rssMib);
      (cpu[kind] ??= []).push(usage.cpuMs);
      await spawnPlugin(binary, env("DEL", `${kind}-rss`, `/run/netns/${name}`, pod), conf);
      await netns("del", name);
    }
    (cpu.floor ??= []).push((await usageOf(values.floor!, {}, "")).cpuMs);
  }

  // Bursts of 30 ADDs at once (kubelet after a node drain), each kind in turn.
  const burst: Record<string, number[]> = {}, burstWall: Record<string, number[]> = {};
  const burstMem: Record<string, number[]> = {};
  const bursting = kinds.filter((k) => k.kind !== "none");
  // One warm-up round, not counted: the machine's first burst grows the kernel's caches (netns,
  // veth, socket slabs) that later bursts reuse, and it rose memory ~3x more whichever kind ran
  // it (two installs of one build measured 364 vs 131 MiB when only the first went first).
  for (let round = -1; round < Number(values.bursts); round++) {
    // A different order each round, as for the single ADDs: no kind always goes first.
    const order = bursting.map((_, i) => bursting[(i + round + 1) % bursting.length]!);
    for (const k of order) {
      const { latencies, wallMs, memRiseMib } = await runBurst(k, 30);
      if (round < 0) continue;
      (burst[k.kind] ??= []).push(...latencies);
      (burstWall[k.kind] ??= []).push(wallMs);
      (burstMem[k.kind] ??= []).push(memRiseMib);
    }
  }
  console.log(JSON.stringify({ samples, rss, cpu, burst, burstWall, burstMem }));
} finally {
  await stopStandin(standin);
}

/** Memory in use on the machine (MemTotal − MemAvailable), in MiB. */
function usedMib(): number {
  const info = Deno.readTextFileSync("/proc/meminfo");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(info)![1]);
  return (field("MemTotal") - field("MemAvailable")) / 1024;
}

/** `size` ADDs at once: each one's latency, the burst's wall time, the rise of memory in use. */
async function runBurst(
  { kind, binary, conf }: Kind,
  size: number,
): Promise<{ latencies: number[]; wallMs: number; memRiseMib: number }> {
  const names = Array.from({ length: size }, () => `${prefix}-p${pod++}`);
  for (const n of names) await netns("add", n);
  const before = usedMib();
  let peak = before;
  const sampler = setInterval(() => peak = Math.max(peak, usedMib()), 10);
  const started = performance.now();
  try {
    const latencies = await Promise.all(
      names.map((n, i) =>
        spawnPlugin(binary, env("ADD", `${kind}-burst`, `/run/netns/${n}`, pod + i), conf)
      ),
    );
    const wallMs = performance.now() - started;
    return { latencies, wallMs, memRiseMib: peak - before };
  } finally {
    clearInterval(sampler);
    await Promise.all(
      names.map((n, i) =>
        spawnPlugin(binary, env("DEL", `${kind}-burst`, `/run/netns/${n}`, pod + i), conf)
      ),
    );
    for (const n of names) await netns("del", n);
    pod += size;
  }
}

/** Times add_skeleton.js for one pod, then undoes what it did (untimed). */
async function skeletonAdd(id: number): Promise<number> {
  const name = `${prefix}-p${id}`;
  await netns("add", name);
  const conf = JSON.stringify({
    cniVersion: "1.0.0",
    name: "benchskeleton",
    type: "host-local",
    ipam: {
      type: "host-local",
      subnet: "10.26.0.0/16",
      rangeStart: "10.26.2.1",
      gateway: "10.26.0.1",
      dataDir: `${dir}/ipam`,
    },
  });
  const started = performance.now();
  const out = await new Deno.Command(values.skeleton!, {
    env: { SKELETON_NETNS: name, SKELETON_ID: String(id), SKELETON_CONF: conf },
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (out.code !== 0) {
    throw new Error(`skeleton ADD failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  await new Deno.Command("ip", { args: ["link", "del", `bcsk${id}`] }).output();
  await spawnPlugin(
    "/usr/lib/cni/host-local",
    env("DEL", "skeleton", `/run/netns/${name}`, id),
    conf,
  );
  await netns("del", name);
  return ms;
}
