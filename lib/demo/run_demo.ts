/**
 * The demo: the seed blog's topology, built entirely in namespaces it creates. An underlay
 * bridge, a GoBGP route reflector and two nodes running the stock bagpipe-bgp; the plugin and
 * conflist installed into each node's own CNI dirs by `bagpipe-cni install`; two pods per node
 * created by running the conflist's chain as kubelet would; a ping matrix; then, as an operator
 * would on a running fabric, a capture of the fabric link taken after the pods exist, the route
 * reflector's EVPN table (`gobgp global rib -a evpn -j`) as the control plane at its start, and
 * `bagpipe-cni verify CAPTURE --rib TABLE`; a report. Then everything is removed, unless
 * --keep (then `--down` removes it later, from the state file).
 */
import { type Fabric, startFabric, type TopologyKind } from "../fabric/fabric.ts";
import { execInNetns } from "../fabric/netns.ts";
import { runCommand } from "../fabric/run_command.ts";
import type { Capture } from "../fabric/capture.ts";
import { DEFAULT_CONFLIST_NAME, PLUGIN_TYPE } from "../cli/install/conflist.ts";
import { parseNetConf } from "../cni/config.ts";
import { DEMO_PACKAGES, installPackages, missingPackages } from "./debian_packages.ts";
import {
  DEFAULT_STATE_FILE,
  loadDemoState,
  newDemoState,
  removeDemoState,
  saveDemoState,
} from "./demo_state.ts";
import { nodeFacts } from "./fabric_facts.ts";
import { describeLeftovers, findLeftovers, isClean, removeLeftovers } from "./leftovers.ts";
import { installOnNode, type NodeCni } from "./node_cni.ts";
import { formatMatrix, pingMatrix } from "./ping_matrix.ts";
import { createPod, deletePod, type PortMapping } from "./pods.ts";
import { dnatRules, ruleFor } from "./port_mappings.ts";
import { Progress } from "./progress.ts";
import { formatServiceMatrix, runServiceMatrix, type ServiceLab } from "./service_matrix.ts";
import { type DemoFacts, demoPassed, formatReport } from "./report.ts";
import { verifyCapture } from "./verify_capture.ts";

/** The repository root (dist/, config/ live there). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** How to run the demo. */
export interface DemoOptions {
  /** Leave everything running and record it in stateFile for `--down`. */
  keep: boolean;
  stateFile: string;
  /** Where 10-bagpipe.conflist, bgp.conf and gobgpd.toml are read from. */
  configDir: string;
  /** Copy the capture here before it is removed with the rest. */
  saveCapture?: string;
  /** "one-dc" (default): 2 nodes, one reflector; "two-dc": 2 datacenters of 2 nodes each. */
  topology?: TopologyKind;
  write: (line: string) => void;
}

/** Nodes per datacenter. */
const NODES = 2;
const PODS_PER_NODE = 2;
const STEPS = 11;
/** Each node's first pod publishes this port, so portmap has work to do. */
const PORT_MAPPING: PortMapping = { hostPort: 8080, containerPort: 80, protocol: "tcp" };

/** Runs the demo; returns the process exit code (0 only when the report says PASS). */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const started = performance.now();
  const progress = new Progress(STEPS, opts.write);
  const facts: DemoFacts = {
    cnis: [],
    pods: [],
    facts: [],
    portmap: [],
    matrix: [],
    left: "",
    clean: false,
    keep: opts.keep,
    timings: [],
    wallMs: 0,
  };
  const previous = await loadDemoState(opts.stateFile);
  if (previous) {
    opts.write(
      `bagpipe-cni demo: a demo (${previous.fabricId}, ${previous.status}) is recorded in ${opts.stateFile}; remove it first with: ${
        downCommand(opts)
      }`,
    );
    return 1;
  }
  // Everything the demo makes is named after id (netns) or lives under demoDir (files, and so
  // every daemon's command line): a sweep by those two finds all of it, whatever failed.
  const id = `bcni-demo-${crypto.randomUUID().slice(0, 6)}`;
  const demoDir = await Deno.makeTempDir({ prefix: `${id}-` });
  const state = newDemoState({ fabricId: id, workDir: demoDir, netns: [], pids: [], pods: [] });
  await saveDemoState(opts.stateFile, state);
  let fabric: Fabric | undefined;
  let capture: Capture | undefined;
  let currentStep = "start";
  let serviceLab: ServiceLab | undefined;

  // Ctrl-C or a CI time-out: the running step finishes (it cannot be cut safely), then the
  // teardown runs. A second signal sweeps at once and exits.
  let interrupted: string | undefined;
  const onSignal = (signal: Deno.Signal) => {
    if (interrupted === undefined) {
      interrupted = signal;
      opts.write(
        `bagpipe-cni demo: ${signal} during step "${currentStep}": tearing down once it ends (send it again to force)`,
      );
      return;
    }
    opts.write(`bagpipe-cni demo: ${signal} again: sweeping now`);
    removeLeftovers(id, demoDir).then(async ({ left }) => {
      if (isClean(left)) await removeDemoState(opts.stateFile);
      opts.write(`left behind: ${describeLeftovers(left, demoDir)}`);
      Deno.exit(130);
    });
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => onSignal(signal);
    Deno.addSignalListener(signal, handler);
    return { signal, handler };
  });
  const step = async <T>(name: string, run: () => Promise<T>) => {
    currentStep = name.split(":")[0]!;
    const result = await progress.step(name, run);
    if (interrupted) throw new Error(`interrupted by ${interrupted}`);
    return result;
  };

  try {
    await step("packages: Debian packages the demo runs on", async () => {
      const missing = await missingPackages(DEMO_PACKAGES);
      if (missing.length === 0) {
        progress.note(`all ${DEMO_PACKAGES.length} installed: ${DEMO_PACKAGES.join(" ")}`);
        return;
      }
      progress.note(`installing missing Debian packages: ${missing.join(" ")}`);
      await installPackages(missing);
    });

    const bundle = await step("build: the bundle (deno task build)", async () => {
      const out = await runCommand([
        Deno.execPath(),
        "task",
        "--config",
        `${REPO_ROOT}deno.json`,
        "build",
      ]);
      if (out.code !== 0) {
        throw new Error(`deno task build failed with exit ${out.code}: ${out.stderr.trim()}`);
      }
      const file = `${REPO_ROOT}dist/bagpipe-cni.js`;
      const size = (await Deno.stat(file)).size;
      progress.note(`${file} (${Math.round(size / 1024)} KiB)`);
      return file;
    });

    // Assigned inside the step, so a teardown after an interrupted step still has the handle.
    const topology = opts.topology ?? "one-dc";
    const f = await step(
      topology === "two-dc"
        ? "fabric: 2 datacenters (underlay, GoBGP route reflector, 2 nodes each), routed link"
        : "fabric: underlay, GoBGP route reflector, 2 nodes running stock bagpipe-bgp",
      async () => {
        fabric = await startFabric({
          topology,
          nodes: NODES,
          nodesPerDc: [NODES, NODES],
          // bagpipe-bgp took up to 3 minutes to answer on a heavily loaded 2-core machine.
          readyTimeoutMs: 240_000,
          prefix: id,
          workDir: demoDir,
          configDir: opts.configDir,
          onStep: (m) => progress.note(m),
        });
        facts.fabric = fabric;
        return fabric;
      },
    );
    state.netns.push(
      f.fabricNetns,
      ...f.dcs.map((dc) => dc.reflector.netns),
      ...(f.router ? [f.router.netns] : []),
      ...f.nodes.map((n) => n.name),
    );
    state.pids = await _pids(f);
    await saveDemoState(opts.stateFile, state);

    const template = `${opts.configDir.replace(/\/$/, "")}/${DEFAULT_CONFLIST_NAME}`;
    facts.cnis = await step(
      "install: bagpipe-cni install of plugin and conflist per node",
      async () => {
        // One node after the other: a failure then leaves no install running into the teardown.
        const cnis = [];
        for (const node of f.nodes) {
          const podCidr = nodePodCidr(template, node.index);
          const cni = await installOnNode({ bundle, template, node, podCidr });
          progress.note(`${node.name}: ${cni.plugin}, ${cni.conflistFile} (pods from ${podCidr})`);
          cnis.push(cni);
        }
        return cnis;
      },
    );

    await step(
      `pods: ${PODS_PER_NODE} pods per node, ADD through the chain as kubelet runs it`,
      async () => {
        for (let n = 1; n <= PODS_PER_NODE; n++) {
          for (const cni of facts.cnis) {
            const name = `${cni.node.name.slice(cni.node.name.lastIndexOf("-") + 1)}-pod${n}`;
            const pod = await createPod(f, cni, name, n === 1 ? [PORT_MAPPING] : []);
            facts.pods.push(pod);
            state.pods.push({ name, node: cni.node.name, netns: pod.netns, ip: pod.ip });
            state.netns.push(pod.netns.slice(pod.netns.lastIndexOf("/") + 1));
            progress.note(
              `${name} on ${cni.node.name}: ${pod.ip} ${pod.mac} via ${pod.hostVeth} (${
                pod.steps.map((s) => `${s.type} ${s.ms} ms`).join(", ")
              })`,
            );
          }
        }
        await saveDemoState(opts.stateFile, state);
        for (const pod of facts.pods) {
          for (const mapping of pod.portMappings) {
            const rule = ruleFor(await dnatRules(pod.cni.node.name), pod, mapping);
            facts.portmap.push({ pod: pod.name, rule });
            if (!rule) {
              throw new Error(
                `portmap wrote no DNAT rule for ${pod.name} (${mapping.protocol} ${mapping.hostPort} → ${pod.ip}:${mapping.containerPort}) in ${pod.cni.node.name}`,
              );
            }
          }
        }
      },
    );

    await step("ping: every pod pings every other pod across the fabric", async () => {
      facts.matrix = await pingMatrix(
        (netns, argv) => execInNetns(netns.slice(netns.lastIndexOf("/") + 1), argv),
        facts.pods,
      );
      for (const line of formatMatrix(facts.pods, facts.matrix)) progress.note(line);
      const failed = facts.matrix.filter((c) => c.ms === undefined);
      if (failed.length > 0) {
        throw new Error(
          `${failed.length} of ${facts.matrix.length} pairs got no reply: ${
            failed.map((c) => `${c.from} → ${c.to}`).join(", ")
          }`,
        );
      }
    });

    await step("routes: VNIs and received EVPN routes from each node's looking glass", async () => {
      const instanceId = _instanceId(facts.cnis[0]!);
      facts.facts = await Promise.all(f.nodes.map((node) => nodeFacts(f, node, instanceId)));
      for (const n of facts.facts) {
        progress.note(
          `${n.node.name}: instance ${n.instance.id} VNI ${n.instance.vni}, ${n.received.length} received route(s)`,
        );
      }
    });

    const rib = `${f.workDir}/reflector-rib.json`;
    capture = await step(
      `capture: after the pods exist, tcpdump on the ${f.router ? "inter-DC" : "fabric"} link`,
      async () => {
        // BGP sends nothing new on a quiet fabric: the reflector's table is the control plane.
        const table = await f.exec(f.reflector.netns, [
          "gobgp",
          "global",
          "rib",
          "-a",
          "evpn",
          "-j",
        ]);
        if (table.code !== 0) throw new Error(`gobgp global rib -a evpn -j: ${table.stderr}`);
        await Deno.writeTextFile(rib, table.stdout);
        const file = `${f.workDir}/fabric.pcap`;
        state.capture = file;
        // Two datacenters: the link between them, to show what crosses it.
        return f.startCapture(file, f.router ? "inter-dc" : undefined);
      },
    );

    await step("traffic: every pod pings every other pod again, captured", async () => {
      await pingMatrix(
        (netns, argv) => execInNetns(netns.slice(netns.lastIndexOf("/") + 1), argv),
        facts.pods,
      );
    });

    await step(
      "verify: stop the capture, run bagpipe-cni verify on it with the table",
      async () => {
        await capture!.stop();
        const bytes = (await Deno.stat(capture!.file)).size;
        facts.capture = { file: capture!.file, bytes, saved: false };
        if (opts.saveCapture) {
          await Deno.copyFile(capture!.file, opts.saveCapture);
          facts.capture = { file: opts.saveCapture, bytes, saved: true };
          progress.note(`capture copied to ${opts.saveCapture}`);
        }
        facts.verify = await verifyCapture(facts.cnis[0]!.plugin, capture!.file, [rib]);
        progress.note(
          facts.verify.state === "verdict"
            ? `verify exited ${facts.verify.exitCode}`
            : facts.verify.why,
        );
      },
    );

    await step(
      "services: kube-proxy's rules on every node; pods, nodes and a client off the cluster ask each Service, NodePort and hostPort",
      async () => {
        const entry = facts.cnis[0]!.list.plugins.find((p) => p.type === PLUGIN_TYPE)!;
        const clusterCidr = String((entry.ipam as Record<string, unknown>).subnet);
        const { lab, matrix } = await runServiceMatrix(f, facts.pods, clusterCidr);
        serviceLab = lab;
        state.netns.push(lab.client.netns);
        await saveDemoState(opts.stateFile, state);
        facts.services = matrix;
        for (const line of formatServiceMatrix(matrix)) progress.note(line);
      },
    );

    if (opts.keep) {
      await step("keep: leave it all running (--keep)", async () => {
        state.status = "kept";
        state.pids = await _pids(f);
        await saveDemoState(opts.stateFile, state);
        progress.note(`recorded in ${opts.stateFile}; remove it all with: ${downCommand(opts)}`);
        const [a, b] = [facts.pods[0]!, facts.pods.at(-1)!];
        progress.note(`try: ip netns exec ${_name(a.netns)} ping -c 3 ${b.ip}`);
        progress.note(`     ip netns exec ${f.nodes[0]!.name} bridge fdb show`);
      });
      facts.left =
        `kept on purpose (--keep): ${state.netns.length} netns, ${state.pids.length} processes, ${f.workDir}; state ${opts.stateFile}; remove with: ${
          downCommand(opts)
        }`;
    } else {
      await step(
        "teardown: DEL every pod through the chain, stop daemons, delete netns",
        async () => {
          for (const problem of (await serviceLab?.close()) ?? []) {
            progress.note(`service matrix clean-up: ${problem}`);
          }
          for (const pod of [...facts.pods].reverse()) {
            await deletePod(pod);
            progress.note(`DEL ${pod.name}: ok`);
          }
          for (const entry of facts.portmap) {
            const pod = facts.pods.find((p) => p.name === entry.pod)!;
            const rules = await dnatRules(pod.cni.node.name);
            entry.removed = pod.portMappings.every((m) => ruleFor(rules, pod, m) === undefined);
          }
          ({ line: facts.left, clean: facts.clean } = await tearDown(fabric, id, demoDir, opts));
        },
      );
    }
  } catch (error) {
    facts.failure = `step "${currentStep}" failed: ${(error as Error).message}`;
    opts.write(`bagpipe-cni demo: ${facts.failure}`);
    if (opts.keep && fabric) {
      state.status = "kept";
      await saveDemoState(opts.stateFile, state).catch(() => {});
      facts.left = `kept on purpose (--keep) after the failure; remove with: ${downCommand(opts)}`;
    } else {
      opts.write("bagpipe-cni demo: tearing down");
      ({ line: facts.left, clean: facts.clean } = await tearDown(fabric, id, demoDir, opts));
    }
  } finally {
    for (const { signal, handler } of handlers) Deno.removeSignalListener(signal, handler);
  }
  facts.timings = progress.timings();
  facts.wallMs = performance.now() - started;
  for (const line of formatReport(facts)) opts.write(line);
  return interrupted ? 130 : demoPassed(facts) ? 0 : 1;
}

/** The command that removes what this demo keeps. */
export function downCommand(opts: Pick<DemoOptions, "stateFile">): string {
  return `deno task demo --down${
    opts.stateFile === DEFAULT_STATE_FILE ? "" : ` --state-file ${opts.stateFile}`
  }`;
}

/**
 * Stops and removes everything: the fabric's own teardown, then a sweep by name (netns id-*,
 * processes and files under demoDir) for what a failed or never-finished start left; the state
 * file goes once nothing is left.
 * @returns the "left behind" line, and whether nothing is left.
 */
export async function tearDown(
  fabric: Fabric | undefined,
  id: string,
  demoDir: string,
  opts: Pick<DemoOptions, "stateFile" | "write">,
): Promise<{ line: string; clean: boolean }> {
  const problems: string[] = [];
  await fabric?.teardown().catch((e) => problems.push((e as Error).message));
  const before = await findLeftovers(id, demoDir);
  // The fabric removes its own dir; what remains under demoDir is ours (or a failed start's).
  const strays = before.netns.length + before.pids.length;
  if (strays > 0) opts.write(`teardown left ${describeLeftovers(before, demoDir)}; sweeping`);
  const swept = await removeLeftovers(id, demoDir);
  problems.push(...swept.problems);
  if (isClean(swept.left)) await removeDemoState(opts.stateFile);
  const note = problems.length > 0 ? ` (teardown problems: ${problems.join("; ")})` : "";
  return { line: `${describeLeftovers(swept.left, demoDir)}${note}`, clean: isClean(swept.left) };
}

/**
 * Node index's share of the conflist's pod subnet: the index-th /24 of it (10.27.0.0/16 gives
 * node 1 10.27.1.0/24), the node's pod CIDR as kube-controller-manager would allocate it.
 */
export function nodePodCidr(template: string, index: number): string {
  const conf = JSON.parse(Deno.readTextFileSync(template));
  const entry = conf.plugins?.find((p: { type?: string }) => p.type === PLUGIN_TYPE);
  const subnet = String(entry?.ipam?.subnet ?? "");
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(subnet);
  if (!m || Number(m[5]) > 22) {
    throw new Error(
      `conflist ${template}: the ${PLUGIN_TYPE} entry's ipam.subnet "${subnet}" must be an IPv4 /22 or larger to give each node a /24`,
    );
  }
  const base = m.slice(1, 5).map(Number).reduce((a, o) => a * 256 + o, 0);
  const net = base + index * 256;
  return `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, 0].join(".")}/24`;
}

/** The VPN instance id the plugin derives for the node's network (see lib/cni/config.ts). */
function _instanceId(cni: NodeCni): string {
  const entry = cni.list.plugins.find((p) => p.type === PLUGIN_TYPE)!;
  const conf = { ...entry, name: cni.list.name, cniVersion: cni.list.cniVersion };
  return parseNetConf(JSON.stringify(conf)).vpnInstanceId;
}

async function _pids(fabric: Fabric): Promise<{ pid: number; what: string }[]> {
  const pids = [];
  for (const pid of await fabric.pids()) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    pids.push({ pid, what: cmdline.split("\0").slice(0, 3).join(" ").slice(0, 120) });
  }
  return pids;
}

function _name(netnsPath: string): string {
  return netnsPath.slice(netnsPath.lastIndexOf("/") + 1);
}
