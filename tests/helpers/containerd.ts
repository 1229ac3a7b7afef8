/**
 * Debian's containerd 1.6 with its CRI plugin (kubelet's path to the plugin) running on a fabric
 * node: its own root, state, sockets and config file, CNI bin_dir/conf_dir per node, started
 * inside the node's netns and pinned mount namespace (node_mount_ns.ts), driven through CRI by
 * tests/helpers/cri/cri_client.py. What it needs here: /work/shared/docs/container-runtimes.md.
 */
import type { FabricNode } from "../../lib/fabric/fabric.ts";
import { run } from "../../lib/net/run.ts";
import { NodeMountNs, removeCgroups } from "./node_mount_ns.ts";
import { installRuntimeCni, RuntimeNode } from "./runtime_node.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CRI_CLIENT = `${ROOT}tests/helpers/cri/cri_client.py`;
/** Debian's python3 (grpcio, grpc_tools); a python3 earlier on PATH (pyenv) may lack them. */
const PYTHON = "/usr/bin/python3";

/** The sandbox ("pause") image the CRI plugin starts every pod with. */
export const SANDBOX_IMAGE = "localhost/bcni-pause:1";

/** Plugins that touch machine-wide paths or cannot work here. */
const DISABLED_PLUGINS = [
  "io.containerd.internal.v1.opt", // creates /opt/containerd
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
];

/** Debian's plugins the CRI plugin needs in its one bin_dir: loopback (it always runs its own
 * loopback network), and the conflist's host-local and portmap. */
const DELEGATES = ["loopback", "host-local", "portmap"];

/**
 * A docker-archive image tarball (`ctr images import` reads it) whose one layer is `rootfs` and
 * whose entrypoint sleeps: the pod sandbox needs a process that stays up, nothing more.
 */
export async function sandboxImageTar(rootfsTar: string, dir: string): Promise<string> {
  const imageDir = `${dir}/sandbox-image`;
  await Deno.mkdir(imageDir, { recursive: true });
  await Deno.copyFile(rootfsTar, `${imageDir}/layer.tar`);
  const diffId = await sha256(await Deno.readFile(`${imageDir}/layer.tar`));
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Entrypoint: ["/bin/sleep", "2147483647"], WorkingDir: "/" },
    rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
  });
  const configName = `${await sha256(new TextEncoder().encode(config))}.json`;
  await Deno.writeTextFile(`${imageDir}/${configName}`, config);
  await Deno.writeTextFile(
    `${imageDir}/manifest.json`,
    JSON.stringify([{ Config: configName, RepoTags: [SANDBOX_IMAGE], Layers: ["layer.tar"] }]),
  );
  const tar = `${dir}/sandbox-image.tar`;
  const out = await run("tar", [
    "-C",
    imageDir,
    "-cf",
    tar,
    "manifest.json",
    configName,
    "layer.tar",
  ]);
  if (out.code !== 0) throw new Error(`tar of ${imageDir}: ${out.stderr}`);
  return tar;
}

async function sha256(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A pod sandbox as the test made it. */
export interface Sandbox {
  id: string;
  name: string;
  namespace: string;
  uid: string;
}

/** containerd on one node. Always `teardown()`. */
export class ContainerdNode extends RuntimeNode {
  #count = 0;
  readonly sandboxes: Sandbox[] = [];
  private constructor(
    node: FabricNode,
    dir: string,
    ns: NodeMountNs,
    /** Every pod's cgroup parent, so teardown finds what runc made. */
    readonly cgroupParent: string,
    readonly socket: string,
    readonly genDir: string,
    private pid: number,
  ) {
    super(node, dir, ns);
  }

  /**
   * Installs the plugin and config/10-bagpipe.conflist (range `podCidr`) into the node's CNI
   * dirs under `dir`, starts containerd in the node and imports the sandbox image from
   * `imageTar`. `dir` must not be under node.workDir: the fabric's stopDaemon kills every process
   * whose command line names that directory (the privsep helpers), containerd too.
   */
  static async start(
    node: FabricNode,
    dir: string,
    podCidr: string,
    imageTar: string,
  ): Promise<ContainerdNode> {
    await Deno.mkdir(`${dir}/cni`, { recursive: true });
    await installRuntimeCni(dir, podCidr);
    for (const plugin of DELEGATES) {
      await Deno.symlink(`/usr/lib/cni/${plugin}`, `${dir}/cni/bin/${plugin}`);
    }
    await Deno.writeTextFile(`${dir}/config.toml`, containerdConfig(dir));
    const ns = await NodeMountNs.pin(node.name, dir);
    const socket = `${dir}/containerd.sock`;
    const pid = spawnContainerd(ns, dir);
    const c = new ContainerdNode(
      node,
      dir,
      ns,
      `${node.name}-cri`,
      socket,
      `${dir}/cri-client`,
      pid,
    );
    try {
      await c.waitReady();
      const imported = await ns.run([
        "ctr",
        "--address",
        socket,
        "--namespace",
        "k8s.io",
        "images",
        "import",
        imageTar,
      ]);
      if (imported.code !== 0) throw new Error(`ctr images import: ${imported.stderr}`);
    } catch (e) {
      await c.teardown();
      throw new Error(`containerd on ${node.name}: ${(e as Error).message}\n${c.logTail()}`);
    }
    return c;
  }

  /** One CRI RuntimeService call; throws with the gRPC status on failure. */
  async cri<T = Record<string, unknown>>(method: string, request: unknown = {}): Promise<T> {
    const out = await run(PYTHON, [CRI_CLIENT, this.socket, method, this.genDir], {
      stdin: JSON.stringify(request),
    });
    if (out.code !== 0) throw new Error(`CRI ${method} on ${this.node.name}: ${out.stderr.trim()}`);
    return JSON.parse(out.stdout) as T;
  }

  /** Waits until the CRI answers Version (containerd takes a few seconds to load its plugins). */
  async waitReady(timeoutMs = 60000): Promise<Record<string, unknown>> {
    const since = performance.now();
    let last = "";
    while (performance.now() - since < timeoutMs) {
      try {
        return await this.cri("Version", { version: "v1" });
      } catch (e) {
        last = (e as Error).message;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    throw new Error(`CRI did not answer within ${timeoutMs} ms: ${last}`);
  }

  /** RunPodSandbox as kubelet would send it (name, namespace, uid, hostname, cgroup parent). */
  async runPodSandbox(name: string, namespace = "default"): Promise<Sandbox> {
    const uid = crypto.randomUUID();
    const answer = await this.cri<{ pod_sandbox_id: string }>("RunPodSandbox", {
      config: {
        metadata: { name, namespace, uid, attempt: this.#count++ },
        hostname: name,
        log_directory: `${this.dir}/pod-logs/${uid}`,
        linux: { cgroup_parent: `/${this.cgroupParent}/pod${uid}` },
      },
    });
    const sandbox = { id: answer.pod_sandbox_id, name, namespace, uid };
    this.sandboxes.push(sandbox);
    return sandbox;
  }

  /** PodSandboxStatus (verbose): the CRI's address for the pod and the sandbox's PID. */
  async status(sandbox: Sandbox): Promise<{ ip: string; pid: number; netns: string }> {
    const answer = await this.cri<{
      status: { network?: { ip?: string } };
      info?: { info?: string };
    }>("PodSandboxStatus", { pod_sandbox_id: sandbox.id, verbose: true });
    const info = JSON.parse(answer.info?.info ?? "{}") as {
      pid?: number;
      runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
    };
    const netns = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === "network")?.path;
    return { ip: answer.status.network?.ip ?? "", pid: info.pid ?? 0, netns: netns ?? "" };
  }

  /** StopPodSandbox (the CRI runs CNI DEL) then RemovePodSandbox (DEL again, without netns). */
  async stop(sandbox: Sandbox): Promise<void> {
    await this.cri("StopPodSandbox", { pod_sandbox_id: sandbox.id });
  }

  async remove(sandbox: Sandbox): Promise<void> {
    await this.cri("RemovePodSandbox", { pod_sandbox_id: sandbox.id });
    this.sandboxes.splice(this.sandboxes.indexOf(sandbox), 1);
  }

  /** Runs argv in the pod's network namespace (through the sandbox's PID). */
  inPod(pid: number, argv: string[]) {
    return run("nsenter", [`--net=/proc/${pid}/ns/net`, ...argv]);
  }

  /** Pings from a pod until answered or `timeoutMs` passed. */
  async pingUntil(pid: number, to: string, timeoutMs = 30000): Promise<boolean> {
    const since = performance.now();
    while (performance.now() - since < timeoutMs) {
      if ((await this.inPod(pid, ["ping", "-c", "1", "-W", "1", to])).code === 0) return true;
    }
    return false;
  }

  /** The pod sandboxes the CRI lists. */
  async listSandboxes(): Promise<string[]> {
    const answer = await this.cri<{ items?: { id: string }[] }>("ListPodSandbox");
    return (answer.items ?? []).map((i) => i.id);
  }

  /** The last lines of containerd's own log. */
  logTail(lines = 30): string {
    try {
      const text = Deno.readTextFileSync(`${this.dir}/containerd.log`).trim().split("\n");
      return `--- last lines of ${this.dir}/containerd.log ---\n${text.slice(-lines).join("\n")}`;
    } catch {
      return "";
    }
  }

  /** Stops containerd (SIGTERM, SIGKILL after 5 s), by its PID. */
  async stopContainerd(): Promise<void> {
    if (!this.pid) return;
    const pid = this.pid;
    this.pid = 0;
    try {
      Deno.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 50; i++) {
      try {
        Deno.kill(pid, "SIGCONT"); // still there?
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // exited meanwhile
    }
  }

  /**
   * Stops and removes every sandbox left (DEL runs), stops containerd, kills what still runs in
   * the mount namespace (shims, sandboxes), unpins it, removes the cgroups. Returns problems.
   */
  async teardown(): Promise<string[]> {
    const problems: string[] = [];
    for (const sandbox of [...this.sandboxes]) {
      try {
        await this.stop(sandbox);
        await this.remove(sandbox);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    await this.stopContainerd();
    problems.push(...await this.ns.release());
    problems.push(...(await removeCgroups(this.cgroupParent)).map((d) => `cgroup ${d} left`));
    return problems;
  }
}

/** Starts containerd inside the node; its output goes to dir/containerd.log. Returns its PID. */
function spawnContainerd(ns: NodeMountNs, dir: string): number {
  // sh and nsenter exec into containerd, so the child's PID is containerd's.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `exec "$@" >${dir}/containerd.log 2>&1`,
      "sh",
      ...ns.argv(["containerd", "--config", `${dir}/config.toml`]),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Reaped in the background; teardown stops it by PID.
  child.status.catch(() => {});
  child.unref();
  return child.pid;
}

/** containerd's config: everything under dir, nothing that listens beyond a unix socket. */
function containerdConfig(dir: string): string {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = [${DISABLED_PLUGINS.map((p) => `"${p}"`).join(", ")}]

[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[${cri}]
  sandbox_image = "${SANDBOX_IMAGE}"
  # Without it runc fails with "can't get final child's PID from pipe: EOF": no
  # CAP_SYS_RESOURCE for the sandbox's oom_score_adj of -998.
  restrict_oom_score_adj = true
  # The streaming server (exec, port-forward) on the node's loopback, any port.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [${cri}.cni]
    bin_dir = "${dir}/cni/bin"
    conf_dir = "${dir}/cni/net.d"
    max_conf_num = 1
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${dir}/state/runc"
`;
}
