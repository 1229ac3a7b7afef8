/**
 * The node check: what the node's daemon received and attached against what the kernel forwards
 * on and what the plugin recorded. `bagpipe-cni verify --node` prints it, `verify --live` and the
 * node agent (`serve`) call {@link checkNode}.
 *
 * @example
 * ```ts
 * const report = await checkNode({ bagpipeUrl: "http://127.0.0.1:8082", stateDir: "/var/lib/cni/bagpipe" });
 * for (const f of report.findings) console.log(f.kind, f.message);
 * ```
 */
import { listAttachments } from "../state/attachments.ts";
import { compareNode, type InstanceKernelState } from "./compare.ts";
import { type DaemonState, readDaemonState } from "./daemon_state.ts";
import { countByKind, type NodeFinding, type NodeFindingKind } from "./findings.ts";
import { instanceDevices } from "./instance_devices.ts";
import { type CommandRunner, readFdb, readLinks, readNeigh } from "./kernel_state.ts";

/** The daemon's REST API on a node. */
export const DEFAULT_BAGPIPE_URL = "http://127.0.0.1:8082";
/** The plugin's default state directory. */
export const DEFAULT_STATE_DIR = "/var/lib/cni/bagpipe";

/** Where the node's state is. */
export interface NodeCheckOptions {
  /** The node daemon's REST API (default http://127.0.0.1:8082). */
  bagpipeUrl?: string;
  /** The plugin's state directory (default /var/lib/cni/bagpipe). */
  stateDir?: string;
  /** Time budget of each call to the daemon (default 5000 ms). */
  timeoutMs?: number;
  /** Replaces the global fetch (to reach the daemon some other way). */
  fetch?: typeof fetch;
  /** Replaces how `ip`/`bridge` are run (default: locally, argument arrays, no shell). */
  runner?: CommandRunner;
}

/** One instance as the check saw it. */
export interface InstanceSummary {
  id: string;
  vni: number;
  bridge?: string;
  vxlan?: string;
  ports: number;
  received: number;
  advertised: number;
  /** Remote MAC entries and flood entries on the VXLAN device. */
  fdbEntries: number;
  neighEntries: number;
}

/** What `checkNode` returns. */
export interface NodeCheckReport {
  checkedAt: string;
  bagpipeUrl: string;
  stateDir: string;
  /** The daemon's view, as read (the node agent's page and metrics use it too). */
  daemon: DaemonState;
  instances: InstanceSummary[];
  /** Records of pods attached to this daemon. */
  records: number;
  /** Record files that could not be read. */
  brokenRecords: string[];
  findings: NodeFinding[];
  counts: Record<NodeFindingKind, number>;
}

/**
 * Reads the daemon, the kernel and the attachment records, and compares them.
 * @throws {BagpipeError} when the daemon cannot be read; {@link KernelReadError} when `ip` or
 *   `bridge` fails; an Error when the state directory cannot be listed.
 */
export async function checkNode(options: NodeCheckOptions = {}): Promise<NodeCheckReport> {
  const daemon = await readDaemonState(options.bagpipeUrl ?? DEFAULT_BAGPIPE_URL, {
    timeoutMs: options.timeoutMs,
    fetch: options.fetch,
  });
  return await checkNodeAgainst(daemon, options);
}

/**
 * The same check on a daemon view already read (the node agent reads it once for its metrics
 * and page; `verify --live` has it from its snapshot).
 * @throws {KernelReadError} when `ip` or `bridge` fails; an Error when the state directory
 *   cannot be listed.
 */
export async function checkNodeAgainst(
  daemon: DaemonState,
  options: Pick<NodeCheckOptions, "stateDir" | "runner"> = {},
): Promise<NodeCheckReport> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const links = await readLinks(options.runner);
  const { records: all, broken } = listAttachments(stateDir);
  const same = _sameUrl(daemon.url);
  const records = all.filter((r) => same(r.bagpipeUrl));
  const kernel = new Map<string, InstanceKernelState>();
  for (const instance of daemon.instances) {
    const devices = instanceDevices(instance, records, links);
    const state: InstanceKernelState = { ...devices, fdb: [], neigh: [] };
    if (devices.vxlan) {
      state.fdb = await readFdb(devices.vxlan, options.runner);
      state.neigh = await readNeigh(devices.vxlan, options.runner);
    }
    kernel.set(instance.id, state);
  }
  const findings = compareNode({ daemon, links, kernel, records });
  return {
    checkedAt: new Date().toISOString(),
    bagpipeUrl: daemon.url,
    stateDir,
    daemon,
    instances: daemon.instances.map((i) => _summary(i, kernel.get(i.id)!)),
    records: records.length,
    brokenRecords: broken,
    findings,
    counts: countByKind(findings),
  };
}

function _summary(
  instance: DaemonState["instances"][number],
  kernel: InstanceKernelState,
): InstanceSummary {
  return {
    id: instance.id,
    vni: instance.vni,
    bridge: kernel.bridge,
    vxlan: kernel.vxlan,
    ports: instance.ports.length,
    received: instance.received.length,
    advertised: instance.advertised.length,
    fdbEntries: kernel.fdb.filter((e) => e.self && e.dst !== undefined).length,
    neighEntries: kernel.neigh.length,
  };
}

/** URLs compare after normalisation ("http://127.0.0.1:8082" = "http://127.0.0.1:8082/"). */
function _sameUrl(url: string): (other: string) => boolean {
  const norm = (u: string) => {
    try {
      return new URL(u).href.replace(/\/$/, "");
    } catch {
      return u;
    }
  };
  const target = norm(url);
  return (other) => norm(other) === target;
}
