import { CniError, ErrorCode } from "../cni/errors.ts";
import { masterOf } from "./bridge_port.ts";
import { lastLine, run } from "./run.ts";
import { batchFailure } from "./veth.ts";

/**
 * One network's devices on a node (README, "Kubernetes network model"): the bridge its pods plug into and the VXLAN
 * device that carries the network's VNI to the other nodes. The plugin owns both; bagpipe-bgp is
 * told about the bridge (`linuxbr`) and reuses the VXLAN device because its VNI is the forced one,
 * so the daemon never deletes them, not even on restart.
 */
export interface BridgeLayout {
  /** `bpbr-<vpnInstanceId>`. */
  bridge: string;
  /** `bpvx-<vpnInstanceId>`. */
  vxlan: string;
  vni: number;
  mtu: number;
  /**
   * The bridge's MAC, fixed at creation (0a:58: + the node gateway's IPv4), so it does not follow
   * the lowest port MAC as ports come and go and pods never hold a stale gateway MAC.
   */
  mac?: string;
  /** The node's own gateway address on the bridge, "a.b.c.d/len" (isGateway); none for L2 only. */
  gatewayCidr?: string;
}

/** Where this node's VXLAN tunnels start: the daemon's VTEP address and UDP port. */
export interface Vtep {
  address: string;
  port: number;
}

function readSys(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

const isUp = (ifname: string) => (Number(readSys(`/sys/class/net/${ifname}/flags`)) & 1) === 1;

/**
 * True when the devices look complete from /sys alone (no spawn: the common ADD). The gateway
 * address is not in /sys; CHECK and STATUS read it (see bridgeProblems).
 */
export function bridgeLooksReady(layout: BridgeLayout): boolean {
  const { bridge, vxlan, mac } = layout;
  return isUp(bridge) && isUp(vxlan) &&
    masterOf(vxlan) === bridge &&
    readSys(`/sys/class/net/${bridge}/bridge/nf_call_iptables`) === "1" &&
    (mac === undefined || readSys(`/sys/class/net/${bridge}/address`) === mac);
}

/**
 * Makes whatever part of the layout is missing, with one `ip -batch`: the bridge (MAC, MTU, STP
 * off, forward delay 0, per-bridge `nf_call_iptables` so kube-proxy's conntrack sees bridged
 * replies even when the global bridge-nf-call-iptables is 0), the VXLAN device (no `proxy`: ARP
 * is flooded through the type-3 entries and answered by the owner; no IPv6 link-local address on
 * it), the gateway address, everything up. Callers hold the network's lock.
 * @returns what it made or changed, for the log.
 */
export async function createBridge(layout: BridgeLayout, vtep: Vtep): Promise<string[]> {
  const { bridge, vxlan, vni, mtu, mac, gatewayCidr } = layout;
  const lines: string[] = [];
  const bridgeOptions = "stp_state 0 forward_delay 0 nf_call_iptables 1";
  if (readSys(`/sys/class/net/${bridge}/ifindex`) === undefined) {
    lines.push(
      `link add ${bridge}${mac ? ` address ${mac}` : ""} mtu ${mtu} type bridge ${bridgeOptions}`,
    );
  } else {
    lines.push(`link set ${bridge}${mac ? ` address ${mac}` : ""} type bridge ${bridgeOptions}`);
  }
  if (readSys(`/sys/class/net/${vxlan}/ifindex`) === undefined) {
    lines.push(
      `link add ${vxlan} mtu ${mtu} type vxlan id ${vni} local ${vtep.address} ` +
        `dstport ${vtep.port} nolearning`,
      `link set ${vxlan} addrgenmode none`,
    );
  }
  lines.push(`link set ${vxlan} master ${bridge} up`);
  if (gatewayCidr) lines.push(`addr replace ${gatewayCidr} dev ${bridge}`);
  lines.push(`link set ${bridge} up`);
  const out = await run("ip", ["-batch", "-"], { stdin: lines.join("\n") + "\n" });
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to set up bridge "${bridge}" and VXLAN device "${vxlan}" (VNI ${vni}): ${
        batchFailure(lines, out.stderr, out.code)
      }`,
    );
  }
  return lines;
}

interface LinkJson {
  ifname: string;
  address?: string;
  flags?: string[];
  master?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

/**
 * What keeps the layout from giving pods the network, one phrase per missing piece (empty when
 * complete). Reads the kernel with one `ip -d -json addr` (CHECK and STATUS, never ADD).
 */
export async function bridgeProblems(layout: BridgeLayout, vtep?: Vtep): Promise<string[]> {
  const { bridge, vxlan, vni, mac, gatewayCidr } = layout;
  const out = await run("ip", ["-d", "-json", "addr", "show"]);
  if (out.code !== 0) return [`cannot read the node's links: ${lastLine(out.stderr)}`];
  const links = JSON.parse(out.stdout || "[]") as LinkJson[];
  const br = links.find((l) => l.ifname === bridge);
  const vx = links.find((l) => l.ifname === vxlan);
  const problems: string[] = [];
  if (!br) {
    problems.push(`bridge "${bridge}" is missing`);
  } else {
    if (!br.flags?.includes("UP")) problems.push(`bridge "${bridge}" is down`);
    if (mac && br.address !== mac) {
      problems.push(`bridge "${bridge}" has MAC ${br.address}, not the gateway's ${mac}`);
    }
    if (readSys(`/sys/class/net/${bridge}/bridge/nf_call_iptables`) !== "1") {
      problems.push(
        `bridge "${bridge}" has nf_call_iptables off: kube-proxy's conntrack misses bridged replies`,
      );
    }
    if (gatewayCidr) {
      const has = (br.addr_info ?? []).some((a) =>
        a.family === "inet" && `${a.local}/${a.prefixlen}` === gatewayCidr
      );
      if (!has) problems.push(`bridge "${bridge}" lacks the node's gateway address ${gatewayCidr}`);
    }
  }
  if (!vx) {
    problems.push(`VXLAN device "${vxlan}" is missing`);
  } else {
    const data = vx.linkinfo?.info_data ?? {};
    if (vx.linkinfo?.info_kind !== "vxlan") problems.push(`"${vxlan}" is not a VXLAN device`);
    if (data.id !== vni) problems.push(`VXLAN device "${vxlan}" has VNI ${data.id}, not ${vni}`);
    if (data.proxy === true) {
      problems.push(
        `VXLAN device "${vxlan}" has "proxy": it drops ARP it cannot answer (first contact ~1 s); ` +
          "delete it, the next ADD or STATUS remakes it",
      );
    }
    if (vtep && data.local !== vtep.address) {
      problems.push(
        `VXLAN device "${vxlan}" starts at ${data.local}, not the daemon's VTEP ${vtep.address}`,
      );
    }
    if (vx.master !== bridge) {
      problems.push(`VXLAN device "${vxlan}" is not plugged into bridge "${bridge}"`);
    }
    if (!vx.flags?.includes("UP")) problems.push(`VXLAN device "${vxlan}" is down`);
  }
  return problems;
}
