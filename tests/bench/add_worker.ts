/**
 * Runs INSIDE the bench's node netns (started with `ip netns exec`), so every plugin is spawned
 * the same way, without an `ip netns exec` per call: times our ADD/DEL and the reference bridge
 * plugin's side by side, interleaved, and prints the samples as JSON.
 */
import { parseArgs } from "node:util";
import { run } from "../../lib/net/run.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    plugin: { type: "string" },
    floor: { type: "string" },
    skeleton: { type: "string" },
    dir: { type: "string" },
    prefix: { type: "string" },
    rounds: { type: "string", default: "30" },
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

async function netns(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args: ["netns", ...args], stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(`ip netns ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const ours = JSON.stringify({
  cniVersion: "1.0.0",
  name: "benchours",
  type: "bagpipe",
  importrt: "64512:90",
  exportrt: "64512:90",
  backend: "none",
  stateDir: `${dir}/state`,
  logFile: `${dir}/plugin.log`,
  ipam: {
    type: "host-local",
    subnet: "10.27.0.0/16",
    rangeStart: "10.27.2.1",
    gateway: "10.27.0.1",
    dataDir: `${dir}/ipam`,
  },
});
const bridge = JSON.stringify({
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
const kinds = [
  { kind: "ours", binary: values.plugin!, conf: ours },
  { kind: "bridge", binary: "/usr/lib/cni/bridge", conf: bridge },
] as const;

const samples: Record<string, number[]> = {
  ours_add: [],
  ours_del: [],
  bridge_add: [],
  bridge_del: [],
  floor: [],
  skeleton_add: [],
};
let pod = 0;
const env = (command: string, kind: string, netnsPath: string, id: number) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: `${kind}-${id}`,
  CNI_NETNS: netnsPath,
  CNI_IFNAME: "eth0",
  CNI_PATH: cniPath,
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
});

// One warm-up round each (first runs fill caches: deno's code cache, the bridge device).
for (let round = -1; round < rounds; round++) {
  for (const { kind, binary, conf } of round % 2 ? kinds : [...kinds].reverse()) {
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

// 16 pods at once, each kind in turn, three times.
const parallel: Record<string, number[]> = { ours: [], bridge: [] };
for (let round = 0; round < 3; round++) {
  for (const { kind, binary, conf } of kinds) {
    const names = Array.from({ length: 16 }, () => `${prefix}-p${pod++}`);
    for (const n of names) await netns("add", n);
    const started = performance.now();
    await Promise.all(
      names.map((n, i) => spawnPlugin(binary, env("ADD", kind, `/run/netns/${n}`, pod + i), conf)),
    );
    parallel[kind]!.push(performance.now() - started);
    await Promise.all(
      names.map((n, i) => spawnPlugin(binary, env("DEL", kind, `/run/netns/${n}`, pod + i), conf)),
    );
    for (const n of names) await netns("del", n);
    pod += 16;
  }
}
console.log(JSON.stringify({ samples, parallel }));
