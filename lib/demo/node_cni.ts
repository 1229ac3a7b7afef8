/**
 * One node's CNI set-up, laid out as on a real host but under the node's own directory (all
 * node netns share this machine's filesystem): opt/cni/bin, etc/cni/net.d, var/lib/cni, ...
 * The plugin and the conflist are written by `bagpipe-cni install`, as the DaemonSet's init
 * container does on a real node.
 */
import { DEFAULT_CONFLIST_NAME, PLUGIN_TYPE } from "../cli/install/conflist.ts";
import type { FabricNode } from "../fabric/fabric.ts";
import { inNetns } from "../fabric/netns.ts";
import { runCommand } from "../fabric/run_command.ts";
import { type NetworkList, parseConflist } from "./conflist_runner.ts";

/** Where the runtime keeps plugins that are not ours (host-local, portmap). */
export const SYSTEM_CNI_DIR = "/usr/lib/cni";

/** One node's CNI directories and its installed network list. */
export interface NodeCni {
  node: FabricNode;
  binDir: string;
  confDir: string;
  /** The installed conflist, as the runtime reads it. */
  conflistFile: string;
  list: NetworkList;
  /** The CNI_PATH the node's runtime uses: our bin dir first. */
  cniPath: string[];
  /** The bagpipe plugin's state dir and log. */
  stateDir: string;
  logFile: string;
  /** This node's share of the pod network (host-local range). */
  podCidr: string;
  /** The installed plugin executable. */
  plugin: string;
}

/** Paths of a node's CNI layout, under its work dir. */
export function nodeLayout(node: FabricNode) {
  const root = node.workDir;
  return {
    binDir: `${root}/opt/cni/bin`,
    confDir: `${root}/etc/cni/net.d`,
    cacheDir: `${root}/var/cache/bagpipe-cni`,
    stateDir: `${root}/var/lib/cni/bagpipe`,
    ipamDir: `${root}/var/lib/cni/networks`,
    logFile: `${root}/var/log/bagpipe-cni.log`,
    /** Where the conflist given to install lives, like the DaemonSet's ConfigMap mount. */
    sourceDir: `${root}/etc/bagpipe-cni`,
  };
}

/**
 * The node's conflist from the template: its bagpipe entry keeps state, log and IPAM leases in
 * the node's own directory instead of the host's /var (the node netns share one filesystem).
 * @throws naming the template when it is unreadable or has no bagpipe entry.
 */
export async function nodeConflist(template: string, node: FabricNode): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(template);
  } catch (e) {
    throw new Error(`cannot read conflist template ${template}: ${(e as Error).message}`);
  }
  parseConflist(text, template);
  const raw = JSON.parse(text) as Record<string, unknown>;
  const plugins = raw.plugins as Record<string, unknown>[];
  const entry = plugins.find((p) => p.type === PLUGIN_TYPE);
  if (!entry) throw new Error(`conflist template ${template} has no "${PLUGIN_TYPE}" plugin`);
  const paths = nodeLayout(node);
  entry.stateDir = paths.stateDir;
  entry.logFile = paths.logFile;
  entry.ipam = { ...(entry.ipam as Record<string, unknown>), dataDir: paths.ipamDir };
  return `${JSON.stringify(raw, null, 2)}\n`;
}

/**
 * Installs the bundle and the node's conflist into the node's own directories with
 * `bagpipe-cni install` (run from the bundle, as on a real node), then reads the installed
 * conflist back as the runtime would.
 * @throws with install's own message and exit code when it fails.
 */
export async function installOnNode(opts: {
  bundle: string;
  template: string;
  node: FabricNode;
  podCidr: string;
}): Promise<NodeCni> {
  const { node } = opts;
  const paths = nodeLayout(node);
  await Deno.mkdir(paths.sourceDir, { recursive: true });
  const name = opts.template.slice(opts.template.lastIndexOf("/") + 1) || DEFAULT_CONFLIST_NAME;
  const source = `${paths.sourceDir}/${name}`;
  await Deno.writeTextFile(source, await nodeConflist(opts.template, node));
  const argv = [
    Deno.execPath(),
    "run",
    "-A",
    opts.bundle,
    "install",
    "--cni-bin-dir",
    paths.binDir,
    "--cache-dir",
    paths.cacheDir,
    "--cni-conf-dir",
    paths.confDir,
    "--conflist",
    source,
    "--pod-cidr",
    opts.podCidr,
  ];
  // In the node's netns, as the DaemonSet's init container runs it (host network): anything
  // install sets up on the node lands there, never in this machine's own namespace.
  const out = await runCommand(inNetns(node.name, argv));
  if (out.code !== 0) {
    throw new Error(
      `bagpipe-cni install on node ${node.name} failed with exit ${out.code}: ${
        (out.stderr.trim() || out.stdout.trim()).slice(-1000)
      }`,
    );
  }
  const conflistFile = `${paths.confDir}/${name}`;
  const list = parseConflist(await Deno.readTextFile(conflistFile), conflistFile);
  return {
    node,
    binDir: paths.binDir,
    confDir: paths.confDir,
    conflistFile,
    list,
    cniPath: [paths.binDir, SYSTEM_CNI_DIR],
    stateDir: paths.stateDir,
    logFile: paths.logFile,
    podCidr: opts.podCidr,
    plugin: `${paths.binDir}/${PLUGIN_TYPE}`,
  };
}
