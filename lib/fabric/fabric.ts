/**
 * A real EVPN/VXLAN test fabric of stock daemons in network namespaces: an underlay bridge
 * netns, a GoBGP route reflector netns and N node netns each running bagpipe-bgp.
 *
 * ```ts
 * const f = await startFabric({ onStep: console.log });
 * try {
 *   const pod = await f.addPodNetns(f.nodes[0], "pod1");
 * } finally {
 *   await f.teardown();
 * }
 * ```
 * @module
 */
import { BagpipeDaemon } from "./bagpipe_daemon.ts";
import { renderBagpipeConfig, writeModprobeStandIn } from "./bagpipe_config.ts";
import { type Capture, startTcpdump } from "./capture.ts";
import { killLeftovers, pidsWithCmdline, type StopReport } from "./daemon_process.ts";
import { renderGobgpConfig } from "./gobgp_config.ts";
import type { BgpPeerState } from "./looking_glass.ts";
import { createNetns, deleteNetns, execInNetns, NETNS_DIR, netnsPath } from "./netns.ts";
import { type HttpAnswer, httpInNetns, type HttpTool, pickHttpTool } from "./netns_http.ts";
import { ReflectorDaemon } from "./reflector_daemon.ts";
import { runChecked } from "./run_command.ts";
import { defaultConfigDir } from "./template.ts";
import {
  describeNode,
  FABRIC_BRIDGE,
  type FabricNode,
  MAX_NODES,
  REFLECTOR_IP,
  type ReflectorInfo,
  UNDERLAY_IFACE,
  UNDERLAY_PREFIX,
  UNDERLAY_PREFIX_LEN,
} from "./topology.ts";
import { UndoStack } from "./undo_stack.ts";

export type { Capture, FabricNode, HttpAnswer, ReflectorInfo, StopReport };
export type { BgpPeerState };

/** How to build a fabric. */
export interface FabricOptions {
  /** Number of bagpipe-bgp nodes (default 2). */
  nodes?: number;
  /** Prefix of every netns name; must start with "bcni-" (default "bcni-" + 6 random hex). */
  prefix?: string;
  /** Parent of the fabric's own temp directory (default: the system temp dir). */
  workDir?: string;
  /** Where bgp.conf and gobgpd.toml templates are (default: the repository's config/). */
  configDir?: string;
  /** Progress messages; the harness never prints. */
  onStep?: (msg: string) => void;
  /** How long a daemon may take to answer and to reach Established (default 20000 ms each). */
  readyTimeoutMs?: number;
  /** How long SIGTERM may take before SIGKILL (default 4000 ms). */
  stopGraceMs?: number;
  /** Keep the temp directory (configs, logs) after teardown, to debug a failure. */
  keepWorkDir?: boolean;
  /** Force the HTTP client used inside netns (default: curl if installed, else python3). */
  httpTool?: HttpTool;
}

/** Options of Fabric.exec. */
export interface ExecOptions {
  stdin?: string;
  env?: Record<string, string>;
}

/** A running fabric; always end it with teardown(). */
export interface Fabric {
  /** The prefix shared by all its netns names. */
  readonly id: string;
  /** Its temp directory: per-node configs and logs, reflector config and log. */
  readonly workDir: string;
  readonly nodes: FabricNode[];
  readonly reflector: ReflectorInfo;
  /** The netns holding the underlay bridge. */
  readonly fabricNetns: string;
  /** The underlay bridge inside fabricNetns (capture there to see BGP and VXLAN). */
  readonly fabricBridge: string;
  /** The HTTP client api() uses inside namespaces. */
  readonly httpTool: HttpTool;
  /** Runs argv inside a netns (a name or a /run/netns/ path); never throws on exit codes. */
  exec(
    netns: string,
    argv: string[],
    opts?: ExecOptions,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** A REST call to the node's bagpipe-bgp, made inside the node netns. */
  api(node: FabricNode, method: string, path: string, body?: unknown): Promise<HttpAnswer>;
  /**
   * Creates an empty pod netns named `<id>-<name>` (lo up) for a pod on node; returns its
   * path, usable as CNI_NETNS from inside the node netns. Deleted by teardown.
   */
  addPodNetns(node: FabricNode, name: string): Promise<string>;
  /** Stops the node's bagpipe-bgp (SIGTERM, SIGKILL after the grace time). */
  stopDaemon(node: FabricNode): Promise<StopReport>;
  /** Starts the node's bagpipe-bgp and waits for /ping; returns the /ping value (text). */
  startDaemon(node: FabricNode): Promise<string>;
  /** stopDaemon then startDaemon. */
  restartDaemon(node: FabricNode): Promise<string>;
  /** Stops the route reflector, so daemons are up without an Established peer. */
  stopReflector(): Promise<StopReport>;
  /** Starts the route reflector again and waits for its API. */
  startReflector(): Promise<void>;
  /** Waits until the node's looking-glass bgp/peers are all Established. */
  waitEstablished(node: FabricNode, timeoutMs?: number): Promise<BgpPeerState[]>;
  /** Captures the underlay bridge with tcpdump -w into file until stop(). */
  startCapture(file: string): Promise<Capture>;
  /** The last lines of the node's bagpipe-bgp log. */
  daemonLog(node: FabricNode, lines?: number): Promise<string>;
  /** The PIDs the fabric started that are still running (daemons, helpers, captures). */
  pids(): Promise<number[]>;
  /** Stops everything it started and deletes everything it made; idempotent. */
  teardown(): Promise<void>;
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Builds the namespaces, starts the reflector and every node's bagpipe-bgp in parallel,
 * and resolves once every node has its BGP session Established.
 * @throws after undoing whatever it had made, with the failing daemon's log tail.
 */
export async function startFabric(opts: FabricOptions = {}): Promise<Fabric> {
  const nodeCount = opts.nodes ?? 2;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES) {
    throw new Error(`fabric nodes must be an integer from 1 to ${MAX_NODES}, got ${nodeCount}`);
  }
  const id = opts.prefix ?? `bcni-${_randomHex(6)}`;
  if (!id.startsWith("bcni-") || !NAME_PATTERN.test(id) || id.length > 40) {
    throw new Error(`fabric prefix "${id}" must start with "bcni-", use [a-z0-9-], ≤ 40 chars`);
  }
  const step = opts.onStep ?? (() => {});
  const undo = new UndoStack();
  try {
    return await _build(id, nodeCount, opts, step, undo);
  } catch (error) {
    step(`fabric ${id} failed to start, cleaning up: ${(error as Error).message}`);
    await undo.runAll(step).catch((cleanup) => {
      (error as Error).message += `\n(and ${(cleanup as Error).message})`;
    });
    throw error;
  }
}

async function _build(
  id: string,
  nodeCount: number,
  opts: FabricOptions,
  step: (msg: string) => void,
  undo: UndoStack,
): Promise<Fabric> {
  const readyMs = opts.readyTimeoutMs ?? 20_000;
  const graceMs = opts.stopGraceMs ?? 4_000;
  const configDir = opts.configDir ?? defaultConfigDir();
  const started = performance.now();
  const since = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

  const workDir = await Deno.makeTempDir({ dir: opts.workDir, prefix: `${id}-` });
  undo.push(opts.keepWorkDir ? `keep ${workDir}` : `remove ${workDir}`, async () => {
    if (!opts.keepWorkDir) await Deno.remove(workDir, { recursive: true });
  });
  const httpTool = opts.httpTool ?? await pickHttpTool();
  const standInDir = `${workDir}/bin`;
  await writeModprobeStandIn(standInDir);

  const fabricNetns = `${id}-fab`;
  const reflector: ReflectorInfo = { netns: `${id}-rr`, ip: REFLECTOR_IP };
  const nodes = Array.from({ length: nodeCount }, (_, i) => describeNode(id, i + 1, workDir));
  const made = async (netns: string) => {
    await createNetns(netns);
    undo.push(`delete netns ${netns}`, () => deleteNetns(netns));
  };

  // The underlay: one bridge, one veth per member (bridge port named after the member).
  await made(fabricNetns);
  await runChecked(["ip", "-n", fabricNetns, "link", "add", FABRIC_BRIDGE, "type", "bridge"]);
  await runChecked(["ip", "-n", fabricNetns, "link", "set", FABRIC_BRIDGE, "up"]);
  const members = [
    { netns: reflector.netns, port: "rr", ip: reflector.ip },
    ...nodes.map((node) => ({ netns: node.name, port: `n${node.index}`, ip: node.underlayIp })),
  ];
  await _allSettledOrThrow(members.map(async (member) => {
    await made(member.netns);
    await _plugIntoUnderlay(fabricNetns, member.netns, member.port, member.ip);
  }));
  step(`fabric ${id}: underlay ${UNDERLAY_PREFIX} on ${members.length} netns (${since()})`);

  const reflectorDaemon = new ReflectorDaemon(
    reflector.netns,
    `${workDir}/gobgpd.toml`,
    `${workDir}/gobgpd.log`,
  );
  await Deno.writeTextFile(
    reflectorDaemon.configFile,
    await renderGobgpConfig(configDir, reflector.ip, UNDERLAY_PREFIX),
  );
  const daemons = new Map<string, BagpipeDaemon>();
  for (const node of nodes) {
    await Deno.mkdir(node.workDir, { recursive: true });
    await Deno.writeTextFile(
      node.configFile,
      await renderBagpipeConfig({
        configDir,
        configFile: node.configFile,
        localAddress: node.underlayIp,
        reflectorIp: reflector.ip,
        standInDir,
      }),
    );
    const http = (method: string, path: string, body?: unknown) =>
      httpInNetns(httpTool, node.name, method, _url(node, path), body);
    daemons.set(node.name, new BagpipeDaemon(node, http));
  }
  // Registered before anything starts, so a half-started fabric stops what did start.
  undo.push("stop daemons", async () => {
    const reports = await Promise.all([
      reflectorDaemon.stop(graceMs).then((r) => `gobgpd ${r.endedBy}`),
      ...[...daemons.values()].map((d) =>
        d.stop(graceMs).then((r) => `${d.node.name} ${r.endedBy}`)
      ),
    ]);
    await killLeftovers(`${workDir}/`, graceMs);
    step(`stopped: ${reports.join(", ")}`);
  });

  // All at once: gobgpd listens within ~1 s, bagpipe-bgp first dials after ~3 s (and
  // would retry 5 s later if it lost that race).
  const reflectorUp = reflectorDaemon.start(readyMs).then(() =>
    step(`gobgpd reflector up in ${reflector.netns} at ${reflector.ip} (${since()})`)
  );
  const nodesUp = [...daemons.values()].map(async (daemon) => {
    await daemon.start(readyMs);
    step(`bagpipe-bgp on ${daemon.node.name} answers /ping (${since()})`);
    await daemon.waitEstablished(readyMs);
    step(`bagpipe-bgp on ${daemon.node.name} Established with the reflector (${since()})`);
  });
  await _allSettledOrThrow([reflectorUp, ...nodesUp]);

  const daemonOf = (node: FabricNode): BagpipeDaemon => {
    const daemon = daemons.get(node.name);
    if (!daemon) throw new Error(`node "${node.name}" is not part of fabric ${id}`);
    return daemon;
  };
  const fabric: Fabric = {
    id,
    workDir,
    nodes,
    reflector,
    fabricNetns,
    fabricBridge: FABRIC_BRIDGE,
    httpTool,
    exec: (netns, argv, execOpts = {}) => execInNetns(_netnsName(netns), argv, execOpts),
    api: (node, method, path, body) => daemonOf(node).http(method, path, body),
    async addPodNetns(node, name) {
      daemonOf(node);
      if (!NAME_PATTERN.test(name)) {
        throw new Error(`pod netns name "${name}" must use [a-z0-9-]`);
      }
      const netns = `${id}-${name}`;
      await made(netns);
      step(`pod netns ${netns} for node ${node.name}`);
      return netnsPath(netns);
    },
    async stopDaemon(node) {
      const report = await daemonOf(node).stop(graceMs);
      step(`bagpipe-bgp on ${node.name} stopped by ${report.endedBy} in ${report.ms} ms`);
      return report;
    },
    async startDaemon(node) {
      const ping = await daemonOf(node).start(readyMs);
      step(`bagpipe-bgp on ${node.name} started, /ping ${ping}`);
      return ping;
    },
    async restartDaemon(node) {
      await fabric.stopDaemon(node);
      return await fabric.startDaemon(node);
    },
    async stopReflector() {
      const report = await reflectorDaemon.stop(graceMs);
      step(`gobgpd stopped by ${report.endedBy} in ${report.ms} ms`);
      return report;
    },
    async startReflector() {
      await reflectorDaemon.start(readyMs);
      step(`gobgpd started in ${reflector.netns}`);
    },
    waitEstablished: (node, timeoutMs = readyMs) => daemonOf(node).waitEstablished(timeoutMs),
    async startCapture(file) {
      const capture = await startTcpdump({
        netns: fabricNetns,
        iface: FABRIC_BRIDGE,
        file,
        logFile: `${workDir}/tcpdump-${_randomHex(4)}.log`,
      });
      undo.push(`stop capture ${file}`, () => capture.stop());
      step(`capturing ${fabricNetns}/${FABRIC_BRIDGE} into ${file}`);
      return capture;
    },
    daemonLog: (node, lines) => daemonOf(node).logTail(lines),
    async pids() {
      const own = [reflectorDaemon.pid, ...[...daemons.values()].map((d) => d.pid)];
      const helpers = await pidsWithCmdline(`${workDir}/`);
      return [...new Set([...own.filter((pid) => pid !== undefined), ...helpers])];
    },
    async teardown() {
      step(`fabric ${id}: teardown`);
      await undo.runAll(step);
    },
  };
  step(`fabric ${id} ready with ${nodeCount} node(s) (${since()})`);
  return fabric;
}

/** Waits for every promise (so nothing runs on during clean-up); throws the first failure. */
async function _allSettledOrThrow(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failures.length === 0) return;
  const messages = failures.map((f) => (f.reason as Error).message);
  throw new Error(messages.join("\n"));
}

/** Adds a veth between the fabric bridge (port) and netns (UNDERLAY_IFACE with ip). */
async function _plugIntoUnderlay(fabricNetns: string, netns: string, port: string, ip: string) {
  const inFabric = ["ip", "-n", fabricNetns, "link"];
  await runChecked([
    ...inFabric,
    "add",
    port,
    "type",
    "veth",
    "peer",
    "name",
    UNDERLAY_IFACE,
    "netns",
    netns,
  ]);
  await runChecked([...inFabric, "set", port, "master", FABRIC_BRIDGE, "up"]);
  await runChecked([
    "ip",
    "-n",
    netns,
    "addr",
    "add",
    `${ip}/${UNDERLAY_PREFIX_LEN}`,
    "dev",
    UNDERLAY_IFACE,
  ]);
  await runChecked(["ip", "-n", netns, "link", "set", UNDERLAY_IFACE, "up"]);
}

function _url(node: FabricNode, path: string): string {
  return `${node.apiUrl}${path.startsWith("/") ? "" : "/"}${path}`;
}

function _netnsName(netns: string): string {
  return netns.startsWith(`${NETNS_DIR}/`) ? netns.slice(NETNS_DIR.length + 1) : netns;
}

function _randomHex(digits: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(Math.ceil(digits / 2)));
  return [...buffer].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, digits);
}
