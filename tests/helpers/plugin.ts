/**
 * Test helpers that run the INSTALLED plugin exactly as kubelet does: CNI_* variables, config on
 * stdin, result or error on stdout, exit code; inside a node netns the test created.
 */
import { run } from "../../lib/net/run.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Installs dist/bagpipe-cni.js (built by `deno task build`) into a fresh CNI bin dir. */
export async function installPlugin(dir: string): Promise<string> {
  const binDir = `${dir}/bin`;
  const out = await run(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}dist/bagpipe-cni.js`,
    "install",
    "--cni-bin-dir",
    binDir,
    "--cache-dir",
    `${dir}/cache`,
  ]);
  if (out.code !== 0) throw new Error(`install failed: ${out.stderr}${out.stdout}`);
  return binDir;
}

/** What one plugin execution returned. */
export interface PluginRun {
  code: number;
  json: Record<string, unknown> | undefined;
  stdout: string;
  stderr: string;
}

/** Executes a CNI plugin binary inside `nodeNetns` with the given CNI_* environment and stdin. */
export async function execPlugin(
  nodeNetns: string,
  binary: string,
  env: Record<string, string>,
  stdin: unknown,
): Promise<PluginRun> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const out = await run("ip", [
    "netns",
    "exec",
    nodeNetns,
    "env",
    "-i",
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    ...vars,
    binary,
  ], {
    stdin: typeof stdin === "string" ? stdin : JSON.stringify(stdin),
  });
  let json: Record<string, unknown> | undefined;
  try {
    json = out.stdout.trim() ? JSON.parse(out.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { code: out.code, json, stdout: out.stdout, stderr: out.stderr };
}

/** Runs `ip` with arguments and returns stdout; throws with stderr on failure. */
export async function ip(...args: string[]): Promise<string> {
  const out = await run("ip", args);
  if (out.code !== 0) throw new Error(`ip ${args.join(" ")}: ${out.stderr.trim()}`);
  return out.stdout;
}

/** Runs `ip -json` and parses the answer. */
export async function ipJson<T = Record<string, unknown>>(...args: string[]): Promise<T[]> {
  const text = await ip("-json", ...args);
  return text.trim() ? JSON.parse(text) as T[] : [];
}

/** host-local leases (`<network>/<address>` files) under an IPAM data dir, sorted. */
export function leasesIn(ipamDir: string): string[] {
  const out: string[] = [];
  try {
    for (const net of Deno.readDirSync(ipamDir)) {
      for (const f of Deno.readDirSync(`${ipamDir}/${net.name}`)) {
        if (/^[0-9a-f.:]+$/.test(f.name) && f.name.includes(".")) out.push(`${net.name}/${f.name}`);
      }
    }
  } catch {
    // no lease taken yet
  }
  return out.sort();
}

/** A unique, short name for namespaces and temp dirs of one test. */
export function uniqueName(tag: string): string {
  return `bcni-${tag}-${crypto.randomUUID().slice(0, 6)}`;
}

/** A node netns with its own CNI bin dir, state dir, IPAM data dir and pod namespaces. */
export class TestNode {
  readonly pods: string[] = [];
  private constructor(readonly netns: string, readonly dir: string, readonly binDir: string) {}

  /** Creates the node netns (loopback up), a temp dir, and installs the plugin into it. */
  static async create(tag: string): Promise<TestNode> {
    const netns = uniqueName(tag);
    const dir = await Deno.makeTempDir({ prefix: `${netns}-` });
    await ip("netns", "add", netns);
    try {
      await ip("-n", netns, "link", "set", "lo", "up");
      return new TestNode(netns, dir, await installPlugin(dir));
    } catch (e) {
      // Nothing of a node that could not be set up is left behind (e.g. no bundle built yet).
      await ip("netns", "del", netns).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw e;
    }
  }

  get plugin(): string {
    return `${this.binDir}/bagpipe`;
  }

  get cniPath(): string {
    return `${this.binDir}:/usr/lib/cni`;
  }

  get ipamDir(): string {
    return `${this.dir}/ipam`;
  }

  get stateDir(): string {
    return `${this.dir}/state`;
  }

  /** Creates an empty pod netns and returns its path. */
  async addPod(): Promise<string> {
    const name = `${this.netns}-p${this.pods.length}`;
    this.pods.push(name);
    await ip("netns", "add", name);
    return `/run/netns/${name}`;
  }

  /** A network config for this node: host-local on 10.27.0.0/16, state and logs in the temp dir. */
  config(
    overrides: Record<string, unknown> = {},
    ipamOverrides: Record<string, unknown> = {},
  ): Record<string, unknown> {
    return {
      cniVersion: "1.1.0",
      name: "testnet",
      type: "bagpipe",
      importrt: "64512:90",
      exportrt: "64512:90",
      backend: "none",
      stateDir: this.stateDir,
      logFile: `${this.dir}/plugin.log`,
      ipam: {
        type: "host-local",
        subnet: "10.27.0.0/16",
        rangeStart: "10.27.2.1",
        rangeEnd: "10.27.2.200",
        gateway: "10.27.0.1",
        dataDir: this.ipamDir,
        ...ipamOverrides,
      },
      ...overrides,
    };
  }

  /** Runs the installed plugin (or another plugin of the CNI path) in this node as kubelet would. */
  exec(
    command: string,
    conf: unknown,
    env: { containerId?: string; netns?: string; ifname?: string } = {},
    binary = this.plugin,
  ) {
    const vars: Record<string, string> = { CNI_COMMAND: command, CNI_PATH: this.cniPath };
    if (env.containerId !== undefined) vars.CNI_CONTAINERID = env.containerId;
    if (env.netns !== undefined) vars.CNI_NETNS = env.netns;
    if (env.ifname !== undefined) vars.CNI_IFNAME = env.ifname;
    return execPlugin(this.netns, binary, vars, conf);
  }

  /** host-local leases held in this node's IPAM data dir, for any network. */
  leases(): string[] {
    return leasesIn(this.ipamDir);
  }

  /** Names of the links in the node netns. */
  async links(): Promise<string[]> {
    return (await ipJson<{ ifname: string }>("-n", this.netns, "link")).map((l) => l.ifname).sort();
  }

  /** Attachment records in the state dir. */
  records(): string[] {
    try {
      return [...Deno.readDirSync(this.stateDir)].map((e) => e.name).filter((n) =>
        n.endsWith(".json") && n.includes("@")
      ).sort();
    } catch {
      return [];
    }
  }

  /** Deletes every netns and file this node made. */
  async destroy(): Promise<void> {
    for (const pod of this.pods) await run("ip", ["netns", "del", pod]);
    await run("ip", ["netns", "del", this.netns]);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
