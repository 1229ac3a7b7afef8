/**
 * What a container runtime's test node leaves to read, whichever runtime it is (podman,
 * containerd): the plugin's and host-local's files under the node's own /var/lib and /var/log
 * (bind-mounted from its work dir by node_mount_ns.ts), our host veths and the runtime's netns pins.
 */
import type { FabricNode } from "../../lib/fabric/fabric.ts";
import { run } from "../../lib/net/run.ts";
import type { NodeMountNs } from "./node_mount_ns.ts";
import { leasesIn } from "./plugin.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A fabric node running a container runtime in its pinned mount namespace. */
export abstract class RuntimeNode {
  protected constructor(
    readonly node: FabricNode,
    readonly dir: string,
    readonly ns: NodeMountNs,
  ) {}

  /** host-local's leases (the conflist's default dataDir, /var/lib/cni/networks, of this node). */
  leases(): string[] {
    return leasesIn(`${this.dir}/var-lib/cni/networks`);
  }

  /** The plugin's attachment records (the conflist's default stateDir). */
  records(): Record<string, unknown>[] {
    const dir = `${this.dir}/var-lib/cni/bagpipe`;
    try {
      return [...Deno.readDirSync(dir)]
        .filter((e) => e.name.endsWith(".json") && e.name.includes("@"))
        .map((e) => JSON.parse(Deno.readTextFileSync(`${dir}/${e.name}`)));
    } catch {
      return [];
    }
  }

  /** The plugin's log lines (the conflist's default logFile), parsed. */
  logLines(): Record<string, unknown>[] {
    try {
      return Deno.readTextFileSync(`${this.dir}/var-log/bagpipe-cni.log`).split("\n")
        .filter((l) => l.trim()).map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  }

  /** Our host veths in the node netns. */
  async hostVeths(): Promise<string[]> {
    const out = await run("ip", ["-n", this.node.name, "-o", "link", "show"]);
    return [...out.stdout.matchAll(/^\d+: (bc[0-9a-f]+)@/gm)].map((m) => m[1]!);
  }

  /** Network namespaces the runtime pinned in the node's /run/netns. */
  async netnsPins(): Promise<string[]> {
    const out = await this.ns.run(["ls", "/run/netns"]);
    return out.stdout.split("\n").filter((l) => l.trim());
  }
}

/** `bagpipe-cni install` of the built plugin and config/10-bagpipe.conflist into dir/cni. */
export async function installRuntimeCni(dir: string, podCidr: string): Promise<void> {
  const out = await run(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}dist/bagpipe-cni.js`,
    "install",
    "--cni-bin-dir",
    `${dir}/cni/bin`,
    "--cache-dir",
    `${dir}/cni/cache`,
    "--cni-conf-dir",
    `${dir}/cni/net.d`,
    "--conflist",
    `${ROOT}config/10-bagpipe.conflist`,
    "--pod-cidr",
    podCidr,
  ]);
  if (out.code !== 0) throw new Error(`bagpipe-cni install: ${out.stderr}${out.stdout}`);
}
