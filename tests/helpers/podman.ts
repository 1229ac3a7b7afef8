/**
 * podman 4.3 (Debian, CNI backend) running on a fabric node: its own containers.conf and
 * storage.conf (given by CONTAINERS_CONF / CONTAINERS_STORAGE_CONF, nothing machine-wide), the
 * plugin installed with `bagpipe-cni install` into the node's own CNI dirs, and every podman
 * process inside the node's netns and pinned mount namespace. What this machine needs, measured
 * in /work/shared/docs/container-runtimes.md, and where each work-around is:
 * - a mount namespace PINNED per node (node_mount_ns.ts): each `podman` call is a new process; in
 *   a fresh namespace per call, `podman rm` does not see the netns `podman run` pinned, skips CNI
 *   DEL, and the lease and /run/netns/netns-* leak;
 * - cgroup v1 mounts, shadow mounts of /var/lib, /var/log, /run for its state (node_mount_ns.ts,
 *   a comment per mount);
 * - the nofile limit and the cgroup manager (containers.conf below, a comment per setting);
 * - a cgroup parent of our own per node (`--cgroup-parent`), so teardown removes exactly ours.
 */
import type { FabricNode } from "../../lib/fabric/fabric.ts";
import type { RunResult } from "../../lib/net/run.ts";
import { run } from "../../lib/net/run.ts";
import { NodeMountNs, removeCgroups } from "./node_mount_ns.ts";
import { installRuntimeCni, RuntimeNode } from "./runtime_node.ts";

/** The network podman attaches containers to: the name in config/10-bagpipe.conflist. */
export const PODMAN_NETWORK = "bagpipe-net";

/** Applets the test image needs from busybox-static. */
const APPLETS = ["sh", "sleep", "ping", "ip", "cat"];

/**
 * A busybox-static rootfs as a tar, for `podman import` and image tarballs (no registry).
 * Returns the rootfs directory and the tar's path.
 */
export async function busyboxRootfs(dir: string): Promise<{ rootfs: string; tar: string }> {
  const rootfs = `${dir}/rootfs`;
  await Deno.mkdir(`${rootfs}/bin`, { recursive: true });
  for (const d of ["etc", "proc", "sys", "dev", "tmp"]) await Deno.mkdir(`${rootfs}/${d}`);
  await Deno.copyFile("/bin/busybox", `${rootfs}/bin/busybox`);
  await Deno.chmod(`${rootfs}/bin/busybox`, 0o755);
  for (const applet of APPLETS) await Deno.symlink("busybox", `${rootfs}/bin/${applet}`);
  const tar = `${dir}/rootfs.tar`;
  const out = await run("tar", ["-C", rootfs, "-cf", tar, "."]);
  if (out.code !== 0) throw new Error(`tar of ${rootfs}: ${out.stderr}`);
  return { rootfs, tar };
}

/** podman on one node. Always `teardown()`. */
export class PodmanNode extends RuntimeNode {
  readonly image = "localhost/bcni-busybox:1";
  private constructor(
    node: FabricNode,
    dir: string,
    ns: NodeMountNs,
    /** The cgroup every container goes under (podman's default, libpod_parent, is shared). */
    readonly cgroupParent: string,
  ) {
    super(node, dir, ns);
  }

  /**
   * Installs the plugin and config/10-bagpipe.conflist (range `podCidr`) into the node's CNI
   * dirs under `dir`, writes podman's configs, pins the mount namespace and imports the image
   * from `tar`. `dir` must not be under node.workDir: the fabric's stopDaemon kills every process
   * whose command line names that directory (the privsep helpers), conmon and the plugin too.
   */
  static async start(
    node: FabricNode,
    dir: string,
    podCidr: string,
    tar: string,
  ): Promise<PodmanNode> {
    await Deno.mkdir(dir, { recursive: true });
    await installRuntimeCni(dir, podCidr);
    await writeConfigs(dir);
    const ns = await NodeMountNs.pin(node.name, dir);
    const podman = new PodmanNode(node, dir, ns, `${node.name}-podman`);
    const imported = await podman.podman(["import", tar, podman.image]);
    if (imported.code !== 0) {
      await podman.teardown();
      throw new Error(`podman import on ${node.name}: ${imported.stderr}`);
    }
    return podman;
  }

  /** Runs podman with this node's configs, inside the node. */
  podman(args: string[]): Promise<RunResult> {
    return this.ns.run(["podman", ...args], {
      CONTAINERS_CONF: `${this.dir}/containers.conf`,
      CONTAINERS_STORAGE_CONF: `${this.dir}/storage.conf`,
    });
  }

  /** `podman run -d` of a sleeping container on the bagpipe network; extra flags before the image. */
  runContainer(name: string, flags: string[] = []): Promise<RunResult> {
    return this.podman([
      "run",
      "-d",
      "--name",
      name,
      "--network",
      PODMAN_NETWORK,
      // busybox ping needs a raw socket; podman 4 no longer grants NET_RAW by default.
      "--cap-add",
      "NET_RAW",
      "--cgroup-parent",
      `/${this.cgroupParent}`,
      ...flags,
      this.image,
      "sleep",
      "3600",
    ]);
  }

  /** The container's address on the bagpipe network (from `podman inspect`). */
  async address(name: string): Promise<string> {
    const out = await this.podman(["inspect", name]);
    if (out.code !== 0) throw new Error(`podman inspect ${name}: ${out.stderr}`);
    const [info] = JSON.parse(out.stdout) as {
      NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
    }[];
    const ip = info?.NetworkSettings.Networks[PODMAN_NETWORK]?.IPAddress;
    if (!ip) throw new Error(`container ${name} has no address on ${PODMAN_NETWORK}`);
    return ip;
  }

  /** The container's full ID. */
  async id(name: string): Promise<string> {
    const out = await this.podman(["inspect", "--format", "{{.Id}}", name]);
    if (out.code !== 0) throw new Error(`podman inspect ${name}: ${out.stderr}`);
    return out.stdout.trim();
  }

  /** One ping from inside a container; true when answered within a second. */
  async ping(name: string, to: string): Promise<boolean> {
    return (await this.podman(["exec", name, "ping", "-c", "1", "-W", "1", to])).code === 0;
  }

  /** Pings until answered or `timeoutMs` passed. */
  async pingUntil(name: string, to: string, timeoutMs = 30000): Promise<boolean> {
    const since = performance.now();
    while (performance.now() - since < timeoutMs) if (await this.ping(name, to)) return true;
    return false;
  }

  /**
   * Removes every container (podman runs CNI DEL for each), kills what still runs in the mount
   * namespace, unpins it and removes the cgroups. Returns what was left that should not have been.
   */
  async teardown(): Promise<string[]> {
    const problems: string[] = [];
    const rm = await this.podman(["rm", "--all", "--force", "--time", "0"]).catch((e) => ({
      code: -1,
      stderr: String(e),
    }));
    if (rm.code !== 0) problems.push(`podman rm --all: ${rm.stderr.trim()}`);
    problems.push(...await this.ns.release());
    problems.push(...(await removeCgroups(this.cgroupParent)).map((d) => `cgroup ${d} left`));
    return problems;
  }
}

/** podman's own configuration files, everything under dir. */
async function writeConfigs(dir: string): Promise<void> {
  for (const d of ["storage/root", "storage/run", "tmp", "static", "volumes"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await Deno.writeTextFile(
    `${dir}/containers.conf`,
    `[containers]
# podman's default nofile (1048576) is above what this machine lets crun set:
# "setrlimit RLIMIT_NOFILE: Operation not permitted".
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[network]
network_backend = "cni"
# Our plugin first; host-local and portmap from Debian's containernetworking-plugins.
cni_plugin_dirs = ["${dir}/cni/bin", "/usr/lib/cni"]
network_config_dir = "${dir}/cni/net.d"
# Without it podman writes a conflist for its own "podman" network into network_config_dir.
default_network = "${PODMAN_NETWORK}"

[engine]
# No systemd to ask for cgroups inside the node's mount namespace.
cgroup_manager = "cgroupfs"
# journald is not reachable from the node's namespaces.
events_logger = "file"
runtime = "crun"
tmp_dir = "${dir}/tmp"
static_dir = "${dir}/static"
volume_path = "${dir}/volumes"
image_copy_tmp_dir = "${dir}/tmp"
`,
  );
  await Deno.writeTextFile(
    `${dir}/storage.conf`,
    `[storage]
driver = "overlay"
graphroot = "${dir}/storage/root"
runroot = "${dir}/storage/run"
`,
  );
}
