/**
 * A mount namespace pinned to a file, for a container runtime (podman, containerd) that runs
 * "on" a fabric node: every process of the runtime enters the node's netns AND this mount
 * namespace, so the paths the runtime and the CNI plugins hard-code (/var/lib/cni, /run/netns,
 * /var/log, …) are the node's own, and nothing the runtime does is seen machine-wide.
 * See /work/shared/docs/container-runtimes.md for what each mount answers.
 */
import { run, type RunResult } from "../../lib/net/run.ts";

/** cgroup v1 controllers the runtimes need, mounted one per directory as on this machine. */
const V1_CONTROLLERS = [
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "blkio",
  "pids",
];

/** Where a cgroup's directories live in every v1 hierarchy of the machine. */
function cgroupDirs(parent: string): string[] {
  return [...V1_CONTROLLERS, "systemd"].map((c) => `/sys/fs/cgroup/${c}/${parent}`);
}

/** The mount script run once, inside the new namespace. */
function mountScript(dir: string): string {
  return [
    // `ip netns exec` remounts /sys for the netns but loses the cgroup mounts; crun then fails
    // with "invalid file system type on '/sys/fs/cgroup'". A fresh sysfs shows the node's links.
    "mount -t sysfs sysfs /sys",
    // This machine is cgroup v1 "hybrid" (hugetlb on v2), which crun refuses ("cgroups in hybrid
    // mode not supported"): mount only the v1 controllers, plus name=systemd, which runc needs.
    "mount -t tmpfs cgroup /sys/fs/cgroup",
    ...V1_CONTROLLERS.map((c) =>
      `mkdir /sys/fs/cgroup/${c} && mount -t cgroup -o ${c} cgroup /sys/fs/cgroup/${c}`
    ),
    "mkdir /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd",
    // Containers get their /dev/shm from here; a private one keeps their segments off the host.
    "mount -t tmpfs shm /dev/shm",
    // /run: podman and containerd pin pod netns under /run/netns, containerd 1.6 hard-codes its
    // shim sockets under /run/containerd/s, crun keeps state in /run/crun, iptables (portmap)
    // locks /run/xtables.lock. A tmpfs keeps each node's apart and leaves nothing on the host.
    "mount -t tmpfs run /run",
    "mkdir -p /run/netns /run/crun /run/lock",
    // /var/lib: libcni's result cache (/var/lib/cni, not configurable in podman 4.3), host-local's
    // leases and our stateDir (the conflist's defaults, under /var/lib/cni), podman's
    // /var/lib/containers. The node's own directory in its place (the host's /var/lib holds
    // nothing these runtimes need), so nothing lands on the host and the test reads it all.
    `mount --bind ${dir}/var-lib /var/lib`,
    // /var/log: the conflist's default logFile (/var/log/bagpipe-cni.log), per node.
    `mount --bind ${dir}/var-log /var/log`,
  ].join("\n");
}

/** A node's pinned mount namespace; `release()` it (it kills what still runs in it). */
export class NodeMountNs {
  private constructor(
    readonly netns: string,
    readonly dir: string,
    readonly pinFile: string,
    readonly inode: string,
  ) {}

  /**
   * Makes the namespace under `dir` (created) for processes in netns `netns` (a name under
   * /run/netns). `dir/var-lib` and `dir/var-log` are the node's /var/lib and /var/log.
   */
  static async pin(netns: string, dir: string): Promise<NodeMountNs> {
    const pinDir = `${dir}/pin`;
    const pinFile = `${pinDir}/mnt`;
    for (const d of [pinDir, `${dir}/var-lib/cni`, `${dir}/var-log`]) {
      await Deno.mkdir(d, { recursive: true });
    }
    // A namespace can only be pinned on a mount that is not shared (the kernel refuses loops).
    await checked(["mount", "--bind", pinDir, pinDir]);
    await checked(["mount", "--make-private", pinDir]);
    await Deno.writeTextFile(pinFile, "");
    // `slave`: the host's later mounts still show up inside, ours never leak out.
    const made = await run("nsenter", [
      `--net=/run/netns/${netns}`,
      "unshare",
      `--mount=${pinFile}`,
      "--propagation",
      "slave",
      "sh",
      "-ec",
      mountScript(dir),
    ]);
    // The pin is the namespace file itself: its inode is the namespace's, as /proc/PID/ns/mnt reads.
    const inode = made.code === 0 ? `mnt:[${(await Deno.stat(pinFile)).ino}]` : "";
    const ns = new NodeMountNs(netns, dir, pinFile, inode);
    if (made.code !== 0) {
      await ns.release();
      throw new Error(`mount namespace for ${netns} failed: ${made.stderr.trim()}`);
    }
    return ns;
  }

  /** argv run inside the node's netns and this mount namespace. */
  argv(argv: string[]): string[] {
    return ["nsenter", `--net=/run/netns/${this.netns}`, `--mount=${this.pinFile}`, ...argv];
  }

  /** Runs argv inside; never throws on exit codes. */
  run(argv: string[], env?: Record<string, string>, stdin?: string): Promise<RunResult> {
    const [program, ...args] = this.argv(argv);
    return run(program!, args, { env, stdin });
  }

  /** PIDs of the processes in this mount namespace (compared by the namespace's inode). */
  async pids(): Promise<number[]> {
    const out: number[] = [];
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
      try {
        if (await Deno.readLink(`/proc/${entry.name}/ns/mnt`) === this.inode) {
          out.push(Number(entry.name));
        }
      } catch {
        // exited meanwhile
      }
    }
    return out;
  }

  /**
   * What is left after release(), as problems: mounts of the pin, cgroups under `cgroupParent`.
   * (Processes are release()'s to report: once unpinned, the namespace's inode number may be
   * reused by another namespace, so comparing it then would name unrelated processes.)
   */
  leftovers(cgroupParent: string): string[] {
    const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
      .filter((line) => line.includes(`${this.dir}/pin`));
    return [
      ...mounts.map((m) => `mount left: ${m}`),
      ...cgroupsLeft(cgroupParent).map((d) => `cgroup ${d} left`),
    ];
  }

  /**
   * Kills what still runs inside (only processes in this namespace, by PID, while the pin keeps
   * its inode unique), then unpins it: with no process and no pin left, the kernel drops every
   * mount made inside. Returns the processes that would not go.
   */
  async release(): Promise<string[]> {
    let left: number[] = [];
    if (this.inode) {
      // A killed process can take a while to go (uninterruptible in a mount or an exit on a
      // loaded machine): up to 10 s, killing again what a dying parent may still have forked.
      for (let round = 0; round < 100; round++) {
        left = await this.pids();
        if (left.length === 0) break;
        for (const pid of left) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // exited meanwhile
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      left = await this.pids();
    }
    const problems = left.map((pid) =>
      `process ${pid} (${cmdline(pid)}) still in the mount namespace of ${this.netns}`
    );
    await run("umount", [this.pinFile]);
    await run("umount", [`${this.dir}/pin`]);
    return problems;
  }
}

/** A process's command line, for messages. */
function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim();
  } catch {
    return "gone";
  }
}

async function checked(argv: string[]): Promise<void> {
  const out = await run(argv[0]!, argv.slice(1));
  if (out.code !== 0) throw new Error(`${argv.join(" ")}: ${out.stderr.trim()}`);
}

/**
 * Removes a cgroup made under `parent` in every v1 hierarchy (runtimes leave their parent and
 * conmon's or the shim's cgroups behind), deepest first. Returns what could not be removed.
 */
export async function removeCgroups(parent: string): Promise<string[]> {
  const left: string[] = [];
  for (const root of cgroupDirs(parent)) {
    const dirs: string[] = [];
    const walk = async (d: string) => {
      try {
        for await (const e of Deno.readDir(d)) if (e.isDirectory) await walk(`${d}/${e.name}`);
        dirs.push(d);
      } catch {
        // gone
      }
    };
    await walk(root);
    for (const d of dirs) {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await Deno.remove(d);
          break;
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) break;
          if (attempt === 19) left.push(d);
          else await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }
  return left;
}

/** The v1 hierarchies that still have the cgroup. */
function cgroupsLeft(parent: string): string[] {
  return cgroupDirs(parent).filter((d) => {
    try {
      Deno.statSync(d);
      return true;
    } catch {
      return false;
    }
  });
}
