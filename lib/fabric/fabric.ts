/**
 * A real EVPN/VXLAN test fabric of stock daemons in network namespaces: an underlay bridge
 * netns, a GoBGP route reflector netns and N node netns each running bagpipe-bgp. With
 * `topology: "two-dc"`, two such datacenters (two segments, two reflectors peering over iBGP)
 * joined by a router netns: see topology.ts.
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
import { BagpipeDaemon, type DaemonLaunch } from "./bagpipe_daemon.ts";
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
  type Datacenter,
  type FabricNode,
  type InterDcRouter,
  MAX_NODES,
  planTopology,
  type ReflectorInfo,
  type TopologyKind,
  UNDERLAY_IFACE,
} from "./topology.ts";
import { UndoStack } from "./undo_stack.ts";
import { plugIntoUnderlay } from "./underlay_link.ts";

export type {
  Capture,
  DaemonLaunch,
  Datacenter,
  FabricNode,
  HttpAnswer,
  InterDcRouter,
  ReflectorInfo,
  StopReport,
  TopologyKind,
};
export type { BgpPeerState };

/** How to build a fabric. */
export interface FabricOptions {
  /** "one-dc" (default) or "two-dc" (see topology.ts). */
  topology?: TopologyKind;
  /** Number of bagpipe-bgp nodes of the one-dc topology (default 2). */
  nodes?: number;
  /** Nodes in each datacenter of the two-dc topology (default [2, 2]). */
  nodesPerDc?: number[];
  /** Prefix of every netns name; must start with "bcni-" (default "bcni-" + 6 random hex). */
  prefix?: string;
  /** Parent of the fabric's own temp directory (default: the system temp dir). */
  workDir?: string;
  /** Where bgp.conf and gobgpd.toml templates are (default: the repository's config/). */
  configDir?: string;
  /** Progress messages; the harness never prints. */
  onStep?: (msg: string) => void;
  /**
   * How long a daemon may take to answer and to reach Established (default 60000 ms each: on a
   * loaded CI machine bagpipe-bgp took more than 20 s just to start).
   */
  readyTimeoutMs?: number;
  /** How long SIGTERM may take before SIGKILL (default 4000 ms). */
  stopGraceMs?: number;
  /** Keep the temp directory (configs, logs) after teardown, to debug a failure. */
  keepWorkDir?: boolean;
  /** Force the HTTP client used inside netns (default: curl if installed, else python3). */
  httpTool?: HttpTool;
  /**
   * Start a capture before any daemon, so it holds every BGP session from its SYN (verify then
   * knows every route). Its handle is Fabric.initialCapture.
   */
  captureAtStart?: { file: string; where?: CaptureWhere };
}

/** A netns plugged into an underlay segment by addUnderlayNetns. */
export interface UnderlayMember {
  readonly netns: string;
  readonly ip: string;
  /** The underlay interface inside netns. */
  readonly iface: string;
}

/** Where a capture listens: DC1's bridge (default), DC dc's bridge, or the inter-DC link. */
export type CaptureWhere = { dc: number } | "inter-dc";

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
  readonly topology: TopologyKind;
  /** Every node, across datacenters. */
  readonly nodes: FabricNode[];
  /** DC1's route reflector (the only one of the one-dc topology). */
  readonly reflector: ReflectorInfo;
  /** Each datacenter: its segment, reflector and nodes (one in the one-dc topology). */
  readonly dcs: Datacenter[];
  /** The inter-DC router (two-dc only). */
  readonly router?: InterDcRouter;
  /** The netns holding the underlay bridge(s). */
  readonly fabricNetns: string;
  /** DC1's underlay bridge inside fabricNetns (capture there to see BGP and VXLAN). */
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
  /**
   * Adds a netns `<id>-<name>` plugged into DC dc's underlay (default DC1) at the address with
   * last octet hostOctet, e.g. for another vendor's VTEP; deleted by teardown.
   */
  addUnderlayNetns(name: string, hostOctet: number, dc?: number): Promise<UnderlayMember>;
  /** Registers clean-up to run at teardown (before the namespaces go), e.g. a daemon's stop. */
  onTeardown(what: string, undoFn: () => Promise<void>): void;
  /** Stops the node's bagpipe-bgp (SIGTERM, SIGKILL after the grace time). */
  stopDaemon(node: FabricNode): Promise<StopReport>;
  /** Starts the node's bagpipe-bgp and waits for /ping; returns the /ping value (text). */
  startDaemon(node: FabricNode, launch?: DaemonLaunch): Promise<string>;
  /** stopDaemon then startDaemon. */
  restartDaemon(node: FabricNode, launch?: DaemonLaunch): Promise<string>;
  /** Stops DC dc's route reflector (default DC1), so its nodes lose their peer. */
  stopReflector(dc?: number): Promise<StopReport>;
  /** Starts DC dc's route reflector again and waits for its API. */
  startReflector(dc?: number): Promise<void>;
  /** Runs the gobgp client against DC dc's reflector; never throws on exit codes. */
  gobgp(dc: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Waits until the node's looking-glass bgp/peers are all Established. */
  waitEstablished(node: FabricNode, timeoutMs?: number): Promise<BgpPeerState[]>;
  /**
   * Captures with tcpdump -w into file until stop(): DC1's underlay bridge by default, DC dc's
   * bridge with `{ dc }`, or `"inter-dc"`: the bridge port of the router's leg in DC2, i.e.
   * everything routed between the datacenters (two-dc only).
   */
  startCapture(file: string, where?: CaptureWhere): Promise<Capture>;
  /** The capture of FabricOptions.captureAtStart, if asked. */
  readonly initialCapture?: Capture;
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
  const topology = opts.topology ?? "one-dc";
  const nodesPerDc = topology === "one-dc" ? [opts.nodes ?? 2] : opts.nodesPerDc ?? [2, 2];
  if (topology === "two-dc" && nodesPerDc.length !== 2) {
    throw new Error(`the two-dc topology needs nodesPerDc with 2 counts, got ${nodesPerDc}`);
  }
  for (const count of nodesPerDc) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES / nodesPerDc.length) {
      throw new Error(
        `fabric nodes per datacenter must be an integer from 1 to ${
          MAX_NODES / nodesPerDc.length
        }, got ${count}`,
      );
    }
  }
  const id = opts.prefix ?? `bcni-${_randomHex(6)}`;
  if (!id.startsWith("bcni-") || !NAME_PATTERN.test(id) || id.length > 40) {
    throw new Error(`fabric prefix "${id}" must start with "bcni-", use [a-z0-9-], ≤ 40 chars`);
  }
  const step = opts.onStep ?? (() => {});
  const undo = new UndoStack();
  try {
    return await _build(id, topology, nodesPerDc, opts, step, undo);
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
  topology: TopologyKind,
  nodesPerDc: number[],
  opts: FabricOptions,
  step: (msg: string) => void,
  undo: UndoStack,
): Promise<Fabric> {
  const readyMs = opts.readyTimeoutMs ?? 120_000;
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
  const plan = planTopology(topology, id, nodesPerDc, workDir);
  const { dcs, router } = plan;
  const nodes = dcs.flatMap((dc) => dc.nodes);
  const made = async (netns: string) => {
    await createNetns(netns);
    undo.push(`delete netns ${netns}`, () => deleteNetns(netns));
  };

  // The underlay: one bridge per DC, one veth per member (bridge port named after the member).
  await made(fabricNetns);
  for (const dc of dcs) {
    await runChecked(["ip", "-n", fabricNetns, "link", "add", dc.bridge, "type", "bridge"]);
    await runChecked(["ip", "-n", fabricNetns, "link", "set", dc.bridge, "up"]);
  }
  const rrPort = (dc: Datacenter) => dcs.length === 1 ? "rr" : `rr${dc.index}`;
  const members = dcs.flatMap((dc) => [
    { dc, netns: dc.reflector.netns, port: rrPort(dc), ip: dc.reflector.ip },
    ...dc.nodes.map((node) => ({
      dc,
      netns: node.name,
      port: `n${node.index}`,
      ip: node.underlayIp,
    })),
  ]);
  await _allSettledOrThrow(members.map(async (member) => {
    await made(member.netns);
    await plugIntoUnderlay(fabricNetns, member.dc.bridge, member.netns, member.port, member.ip);
    // Across DCs everything goes through the router: VXLAN node to node, BGP between reflectors.
    if (member.dc.routerIp) {
      await runChecked([
        "ip",
        "-n",
        member.netns,
        "route",
        "add",
        "default",
        "via",
        member.dc.routerIp,
      ]);
    }
  }));
  if (router) {
    // The inter-DC link: a netns routing between the segments (one leg on each bridge).
    await made(router.netns);
    for (const [i, dc] of dcs.entries()) {
      await plugIntoUnderlay(
        fabricNetns,
        dc.bridge,
        router.netns,
        router.ports[i]!,
        dc.routerIp!,
        router.legs[i]!,
      );
    }
    await runChecked([
      "ip",
      "netns",
      "exec",
      router.netns,
      "sysctl",
      "-qw",
      "net.ipv4.ip_forward=1",
    ]);
  }
  step(
    `fabric ${id}: ${
      dcs.map((dc) => `underlay ${dc.prefix} on ${dc.nodes.length + 1} netns`).join(", ")
    }${router ? `, routed by ${router.netns}` : ""} (${since()})`,
  );

  const capture = async (file: string, where?: CaptureWhere): Promise<Capture> => {
    let iface = dcs[0]!.bridge;
    if (where === "inter-dc") {
      if (!router) throw new Error(`fabric ${id} (${topology}) has no inter-DC link`);
      iface = router.ports[1]!;
    } else if (where) {
      const dc = dcs[where.dc - 1];
      if (!dc) throw new Error(`fabric ${id} has no datacenter ${where.dc}`);
      iface = dc.bridge;
    }
    const started = await startTcpdump({
      netns: fabricNetns,
      iface,
      file,
      logFile: `${workDir}/tcpdump-${_randomHex(4)}.log`,
    });
    undo.push(`stop capture ${file}`, () => started.stop());
    step(`capturing ${fabricNetns}/${iface} into ${file}`);
    return started;
  };
  const initialCapture = opts.captureAtStart
    ? await capture(opts.captureAtStart.file, opts.captureAtStart.where)
    : undefined;

  const reflectorDaemons = new Map<number, ReflectorDaemon>();
  for (const dc of dcs) {
    const suffix = dcs.length === 1 ? "" : `-dc${dc.index}`;
    const daemon = new ReflectorDaemon(
      dc.reflector.netns,
      `${workDir}/gobgpd${suffix}.toml`,
      `${workDir}/gobgpd${suffix}.log`,
    );
    const others = dcs.filter((d) => d !== dc).map((d) => d.reflector.ip);
    await Deno.writeTextFile(
      daemon.configFile,
      await renderGobgpConfig(configDir, dc.reflector.ip, dc.prefix, others),
    );
    reflectorDaemons.set(dc.index, daemon);
  }
  const reflector = dcs[0]!.reflector;
  const daemons = new Map<string, BagpipeDaemon>();
  for (const node of nodes) {
    await Deno.mkdir(node.workDir, { recursive: true });
    await Deno.writeTextFile(
      node.configFile,
      await renderBagpipeConfig({
        configDir,
        configFile: node.configFile,
        localAddress: node.underlayIp,
        reflectorIp: dcs[node.dc - 1]!.reflector.ip,
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
      ...[...reflectorDaemons.values()].map((r) =>
        r.stop(graceMs).then((report) => `gobgpd in ${r.netns} ${report.endedBy}`)
      ),
      ...[...daemons.values()].map((d) =>
        d.stop(graceMs).then((r) => `${d.node.name} ${r.endedBy}`)
      ),
    ]);
    await killLeftovers(`${workDir}/`, graceMs);
    step(`stopped: ${reports.join(", ")}`);
  });

  // All at once: gobgpd listens within ~1 s, bagpipe-bgp first dials after ~3 s (and
  // would retry 5 s later if it lost that race).
  const reflectorsUp = dcs.map((dc) =>
    reflectorDaemons.get(dc.index)!.start(readyMs).then(() =>
      step(`gobgpd reflector up in ${dc.reflector.netns} at ${dc.reflector.ip} (${since()})`)
    )
  );
  const nodesUp = [...daemons.values()].map(async (daemon) => {
    await daemon.start(readyMs);
    step(`bagpipe-bgp on ${daemon.node.name} answers /ping (${since()})`);
    await daemon.waitEstablished(readyMs);
    step(`bagpipe-bgp on ${daemon.node.name} Established with the reflector (${since()})`);
  });
  await _allSettledOrThrow([...reflectorsUp, ...nodesUp]);
  if (dcs.length > 1) {
    await _allSettledOrThrow(
      [...reflectorDaemons.values()].map((r) => r.waitPeersEstablished(readyMs)),
    );
    step(`reflectors Established with each other (${since()})`);
  }

  const daemonOf = (node: FabricNode): BagpipeDaemon => {
    const daemon = daemons.get(node.name);
    if (!daemon) throw new Error(`node "${node.name}" is not part of fabric ${id}`);
    return daemon;
  };
  const reflectorOf = (dc = 1): ReflectorDaemon => {
    const daemon = reflectorDaemons.get(dc);
    if (!daemon) throw new Error(`fabric ${id} has no datacenter ${dc}`);
    return daemon;
  };
  const fabric: Fabric = {
    id,
    workDir,
    topology,
    nodes,
    reflector,
    dcs,
    router,
    fabricNetns,
    fabricBridge: dcs[0]!.bridge,
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
    async addUnderlayNetns(name, hostOctet, dcIndex = 1) {
      const dc = dcs[dcIndex - 1];
      if (!dc) throw new Error(`fabric ${id} has no datacenter ${dcIndex}`);
      if (!NAME_PATTERN.test(name) || name.length > 12) {
        throw new Error(`underlay netns name "${name}" must use [a-z0-9-], ≤ 12 chars`);
      }
      const taken = members.some((m) => m.ip.endsWith(`.${hostOctet}`) && m.dc === dc);
      if (!Number.isInteger(hostOctet) || hostOctet < 2 || hostOctet > 253 || taken) {
        throw new Error(`underlay address .${hostOctet} in ${dc.prefix} is invalid or taken`);
      }
      const netns = `${id}-${name}`;
      const ip = dc.prefix.replace(/\.0\/24$/, `.${hostOctet}`);
      await made(netns);
      await plugIntoUnderlay(fabricNetns, dc.bridge, netns, name, ip);
      if (dc.routerIp) {
        await runChecked(["ip", "-n", netns, "route", "add", "default", "via", dc.routerIp]);
      }
      members.push({ dc, netns, port: name, ip });
      step(`underlay member ${netns} at ${ip} in DC${dc.index}`);
      return { netns, ip, iface: UNDERLAY_IFACE };
    },
    onTeardown: (what, undoFn) => undo.push(what, undoFn),
    async stopDaemon(node) {
      const report = await daemonOf(node).stop(graceMs);
      step(`bagpipe-bgp on ${node.name} stopped by ${report.endedBy} in ${report.ms} ms`);
      return report;
    },
    async startDaemon(node, launch) {
      const ping = await daemonOf(node).start(readyMs, launch);
      step(`bagpipe-bgp on ${node.name} started, /ping ${ping}`);
      return ping;
    },
    async restartDaemon(node, launch) {
      await fabric.stopDaemon(node);
      return await fabric.startDaemon(node, launch);
    },
    async stopReflector(dc = 1) {
      const report = await reflectorOf(dc).stop(graceMs);
      step(`gobgpd of DC${dc} stopped by ${report.endedBy} in ${report.ms} ms`);
      return report;
    },
    async startReflector(dc = 1) {
      await reflectorOf(dc).start(readyMs);
      step(`gobgpd started in ${reflectorOf(dc).netns}`);
    },
    gobgp: (dc, args) => reflectorOf(dc).gobgp(args),
    waitEstablished: (node, timeoutMs = readyMs) => daemonOf(node).waitEstablished(timeoutMs),
    startCapture: capture,
    initialCapture,
    daemonLog: (node, lines) => daemonOf(node).logTail(lines),
    async pids() {
      const own = [
        ...[...reflectorDaemons.values()].map((r) => r.pid),
        ...[...daemons.values()].map((d) => d.pid),
      ];
      const helpers = await pidsWithCmdline(`${workDir}/`);
      return [...new Set([...own.filter((pid) => pid !== undefined), ...helpers])];
    },
    async teardown() {
      step(`fabric ${id}: teardown`);
      await undo.runAll(step);
    },
  };
  step(`fabric ${id} (${topology}) ready with ${nodes.length} node(s) (${since()})`);
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
