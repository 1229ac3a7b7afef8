/**
 * FRR 8.4 (Debian `frr`) as a bare-metal server's EVPN VTEP beside the bagpipe-bgp nodes: a netns
 * on the underlay running zebra and bgpd with their own config, pid and vty socket paths (nothing
 * machine-wide), a bridge and a VXLAN device per VNI, `advertise-all-vni`, an iBGP session to
 * a route reflector, and a host netns behind the first VNI's bridge (or MACs put on a bridge port
 * by addMacs, for verify's tests). The one FRR harness of the project: see config/frr/ and README
 * "FRR".
 */
import { DaemonProcess } from "./daemon_process.ts";
import type { Fabric, UnderlayMember } from "./fabric.ts";
import { tailFile } from "./log_tail.ts";
import { createNetns, deleteNetns, execInNetns } from "./netns.ts";
import { PollAbort, pollUntil } from "./poll.ts";
import { runChecked, runCommand } from "./run_command.ts";
import { renderTemplateFile } from "./template.ts";
import { FABRIC_AS } from "./bagpipe_config.ts";

/** Where FRR's daemons live on Debian. */
const FRR_BIN = "/usr/lib/frr";
/** Where FRR 8.4 keeps a runtime dir per daemon process unless stopped by SIGTERM. */
const FRR_VAR_TMP = "/var/tmp/frr";

/** How to build the VTEP. */
export interface FrrVtepSpec {
  /** Short name: netns `<fabric id>-<name>` (VTEP) and `<fabric id>-<name>h` (the host). */
  name: string;
  /** Last octet of the VTEP's underlay address. */
  hostOctet: number;
  /** The datacenter it sits in (its reflector is the BGP peer); default 1. */
  dc?: number;
  /** The pods' network VNI (the plugin's forced `vni` must be the same). */
  vni: number;
  /** The bridge's (SVI's) address with prefix length, in the pods' subnet, e.g. "10.42.100.1/16". */
  sviCidr?: string;
  /** A host behind the bridge (netns `<fabric id>-<name>h`): address with prefix length, MAC. */
  host?: { cidr: string; mac: string };
  /**
   * More VNIs, each a bridge and VXLAN device with no SVI and no host: their MACs come from
   * addMacs (FRR advertises each at once, as MAC-only routes: bursts of UPDATEs for verify).
   */
  moreVnis?: number[];
  /** The overlay MTU (the plugin's `mtu`, 1450 by default). */
  mtu?: number;
  /** Where config/frr/*.conf templates are. */
  configDir: string;
  readyTimeoutMs?: number;
}

/** A running FRR VTEP and its host. */
export interface FrrVtep {
  readonly netns: string;
  /** The host's netns, when spec.host was given. */
  readonly hostNetns?: string;
  readonly vtepIp: string;
  /** The bridge and VXLAN device of spec.vni. */
  readonly bridge: string;
  readonly vxlan: string;
  /** vtysh -c command against this FRR; throws when vtysh fails. */
  vtysh(command: string): Promise<string>;
  /** vtysh ... json, parsed. */
  vtyshJson<T = unknown>(command: string): Promise<T>;
  /** Puts static fdb entries for `macs` on a port of `vni`'s bridge: FRR advertises each. */
  addMacs(vni: number, macs: string[]): Promise<void>;
  /** The PIDs of zebra and bgpd while they run. */
  pids(): number[];
  /** Stops bgpd and zebra (SIGTERM) and removes their files; idempotent. */
  stop(): Promise<void>;
}

/**
 * Builds the VTEP in fabric's DC, starts zebra then bgpd and waits for the BGP session with the
 * DC's reflector. Everything is undone at fabric.teardown() (or by stop()).
 */
export async function startFrrVtep(fabric: Fabric, spec: FrrVtepSpec): Promise<FrrVtep> {
  const dc = fabric.dcs[(spec.dc ?? 1) - 1];
  if (!dc) throw new Error(`FRR VTEP ${spec.name}: fabric ${fabric.id} has no DC ${spec.dc}`);
  const readyMs = spec.readyTimeoutMs ?? 60_000;
  const mtu = spec.mtu ?? 1450;
  const vtep: UnderlayMember = await fabric.addUnderlayNetns(spec.name, spec.hostOctet, dc.index);
  const netns = vtep.netns;
  const ipn = (ns: string, ...args: string[]) => runChecked(["ip", "-n", ns, ...args]);
  const bridgeOf = (vni: number) => `br${vni}`;
  /** The port of each VNI's bridge that addMacs puts MACs on. */
  const macPorts = new Map<number, string>();

  /** A VNI's bridge and VXLAN device, with ARP suppression. */
  const addVni = async (vni: number) => {
    const bridge = bridgeOf(vni);
    const vxlan = `vxlan${vni}`;
    await ipn(netns, "link", "add", bridge, "type", "bridge");
    // No IPv6 on the bridge and VXLAN device: their router solicitations would flood over VXLAN
    // from MACs nobody advertised.
    await ipn(netns, "link", "set", bridge, "addrgenmode", "none", "mtu", String(mtu));
    await ipn(
      netns,
      ...["link", "add", vxlan, "type", "vxlan", "id", String(vni), "local", vtep.ip],
      ...["dstport", "4789", "nolearning"],
    );
    await ipn(netns, "link", "set", vxlan, "addrgenmode", "none", "mtu", String(mtu));
    await ipn(netns, "link", "set", vxlan, "master", bridge);
    // ARP suppression: the bridge answers ARP for remote hosts from EVPN MAC/IP routes, as the
    // bagpipe nodes' `proxy` VXLAN devices do; neither side then needs ARP across the tunnel.
    await runChecked([
      ...["ip", "netns", "exec", netns, "bridge", "link", "set", "dev", vxlan],
      ...["neigh_suppress", "on", "learning", "off"],
    ]);
  };
  /** A port on `vni`'s bridge: one end of a veth pair (the other end in `peerNetns`, or here). */
  const addPort = async (vni: number, port: string, peer: string, peerNetns?: string) => {
    await ipn(
      netns,
      ...["link", "add", port, "type", "veth", "peer", "name", peer],
      ...(peerNetns ? ["netns", peerNetns] : []),
    );
    // Its link-local address would send from a MAC nobody advertises.
    await ipn(netns, "link", "set", port, "addrgenmode", "none");
    await ipn(netns, "link", "set", port, "master", bridgeOf(vni), "mtu", String(mtu), "up");
    if (!peerNetns) await ipn(netns, "link", "set", peer, "up");
    macPorts.set(vni, port);
  };

  await addVni(spec.vni);
  if (spec.sviCidr) await ipn(netns, "addr", "add", spec.sviCidr, "dev", bridgeOf(spec.vni));
  let hostNetns: string | undefined;
  if (spec.host) {
    // The host behind the VTEP's bridge.
    const ns = `${netns}h`;
    await createNetns(ns);
    fabric.onTeardown(`delete netns ${ns}`, () => deleteNetns(ns));
    hostNetns = ns;
    await addPort(spec.vni, "host0", "eth0", ns);
    await ipn(ns, "link", "set", "eth0", "address", spec.host.mac, "mtu", String(mtu), "up");
    await ipn(ns, "addr", "add", spec.host.cidr, "dev", "eth0");
  } else {
    await addPort(spec.vni, `mp${spec.vni}`, `mq${spec.vni}`);
  }
  for (const vni of spec.moreVnis ?? []) {
    await addVni(vni);
    await addPort(vni, `mp${vni}`, `mq${vni}`);
  }
  for (const vni of macPorts.keys()) {
    for (const dev of [`vxlan${vni}`, bridgeOf(vni)]) await ipn(netns, "link", "set", dev, "up");
  }

  // FRR's own files: a dir owned by user frr (zebra refuses to run as root).
  // Not under the fabric's dir: temp dirs are 0700 root, and user frr must reach its files.
  const dir = await Deno.makeTempDir({ prefix: `${netns}-` });
  fabric.onTeardown(`remove ${dir}`, () => Deno.remove(dir, { recursive: true }));
  await Deno.chmod(dir, 0o755);
  await Deno.mkdir(`${dir}/run`, { recursive: true });
  const values = {
    HOSTNAME: `${fabric.id}-${spec.name}`,
    LOG_DIR: dir,
    AS: FABRIC_AS,
    ROUTER_ID: vtep.ip,
    REFLECTOR: dc.reflector.ip,
  };
  for (const daemon of ["zebra", "bgpd"]) {
    await Deno.writeTextFile(
      `${dir}/${daemon}.conf`,
      await renderTemplateFile(spec.configDir, `frr/${daemon}.conf`, values),
    );
  }
  await runChecked(["chown", "-R", "frr:frr", dir]);
  const common = (daemon: string) => [
    `${FRR_BIN}/${daemon}`,
    ...["-f", `${dir}/${daemon}.conf`, "-i", `${dir}/run/${daemon}.pid`],
    ...["-z", `${dir}/run/zserv.api`, "--vty_socket", `${dir}/run`, "-P", "0"],
  ];
  const processes: DaemonProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // bgpd first (it talks to zebra), SIGTERM so each removes /var/tmp/frr/<daemon>.<pid>.
    for (const process of [...processes].reverse()) {
      await process.stop(5000);
      await Deno.remove(`${FRR_VAR_TMP}/${_daemonName(process)}.${process.pid}`, {
        recursive: true,
      }).catch(() => {});
    }
  };
  fabric.onTeardown(`stop FRR in ${netns}`, stop);
  const start = async (daemon: string, argv: string[], ready: () => Promise<boolean>) => {
    const process = new DaemonProcess({
      label: `${daemon} in ${netns}`,
      netns,
      argv,
      outputFile: `${dir}/${daemon}.out`,
      cwd: dir,
    });
    processes.push(process);
    await pollUntil({
      what: `${daemon} in ${netns} to start`,
      timeoutMs: readyMs,
      intervalMs: 100,
      explain: async () =>
        `${await tailFile(`${dir}/${daemon}.out`)}\n${await tailFile(`${dir}/${daemon}.log`)}`,
    }, async () => {
      if (process.exit) throw new PollAbort(`${daemon} exited with code ${process.exit.code}`);
      return (await ready()) ? true : undefined;
    });
  };
  const socketExists = (file: string) => Deno.stat(file).then(() => true, () => false);
  await start("zebra", common("zebra"), () => socketExists(`${dir}/run/zserv.api`));
  await start(
    "bgpd",
    [...common("bgpd"), "-l", vtep.ip],
    () => socketExists(`${dir}/run/bgpd.vty`),
  );

  const vtysh = async (command: string): Promise<string> => {
    const out = await execInNetns(netns, ["vtysh", "--vty_socket", `${dir}/run`, "-c", command]);
    if (out.code !== 0) {
      throw new Error(
        `vtysh -c "${command}" in ${netns} failed (${out.code}): ${out.stderr}${out.stdout}`,
      );
    }
    return out.stdout;
  };
  const addMacs = async (vni: number, macs: string[]) => {
    const port = macPorts.get(vni);
    if (!port) throw new Error(`FRR VTEP ${netns} has no VNI ${vni}`);
    const batch = macs.map((m) => `fdb add ${m} dev ${port} master static`).join("\n") + "\n";
    const out = await runCommand(["bridge", "-n", netns, "-batch", "-"], { stdin: batch });
    if (out.code !== 0) throw new Error(`bridge fdb add in ${netns}: ${out.stderr}`);
  };
  const frr: FrrVtep = {
    netns,
    hostNetns,
    vtepIp: vtep.ip,
    bridge: bridgeOf(spec.vni),
    vxlan: `vxlan${spec.vni}`,
    vtysh,
    addMacs,
    async vtyshJson<T>(command: string) {
      return JSON.parse(await vtysh(`${command} json`)) as T;
    },
    pids: () => processes.filter((p) => !p.exit).map((p) => p.pid),
    stop,
  };
  await pollUntil({
    what: `FRR in ${netns} to have its BGP session with ${dc.reflector.ip} Established`,
    timeoutMs: readyMs,
    intervalMs: 500,
    explain: async () =>
      `${await vtysh("show bgp summary").catch((e) => e.message)}\n${await tailFile(
        `${dir}/bgpd.log`,
      )}`,
  }, async () => {
    // FRR 8.4: {"routerId": …, "peers": {"<address>": {"state": "Established", …}}}.
    const summary = await frr.vtyshJson<{ peers?: Record<string, { state?: string }> }>(
      "show bgp l2vpn evpn summary",
    ).catch(() => undefined);
    const peers = summary?.peers;
    return peers?.[dc.reflector.ip]?.state === "Established" ? true : undefined;
  });
  return frr;
}

/** "zebra" or "bgpd": the binary of a DaemonProcess started by startFrrVtep. */
function _daemonName(process: DaemonProcess): string {
  return process.spec.argv[0]!.split("/").at(-1)!;
}

/** Leftover FRR runtime dirs of processes that no longer exist (for tests' clean-up checks). */
export async function frrVarTmpOf(pids: number[]): Promise<string[]> {
  const out = await runCommand(["ls", FRR_VAR_TMP]);
  if (out.code !== 0) return [];
  return out.stdout.split("\n").filter((name) => pids.some((pid) => name.endsWith(`.${pid}`)));
}
