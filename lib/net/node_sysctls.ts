import { CniError, ErrorCode } from "../cni/errors.ts";
import { lastLine, run } from "./run.ts";

/**
 * The kernel settings of the node's netns (where the plugin runs) that pods on a gateway bridge
 * need: br_netfilter (kube-proxy's Service NAT must see bridged replies), ip_forward (the node
 * routes for its pods) and a reverse-path filter that does not drop what the bridge routes.
 */

const BRIDGE_NF_DIR = "/proc/sys/net/bridge";
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

/** True when br_netfilter is loaded (its sysctls exist in every netns then). */
export function brNetfilterLoaded(): boolean {
  return exists(BRIDGE_NF_DIR);
}

/** True when the netns forwards IPv4. */
export function ipForwardOn(): boolean {
  return read(IP_FORWARD) === "1";
}

/**
 * Loads br_netfilter when it is missing: without it a bridge's `nf_call_iptables` does nothing
 * and a Service's reply from a pod on the same bridge is never un-DNATed.
 * @throws CniError 50 naming the module when it cannot be loaded.
 */
export async function ensureBrNetfilter(): Promise<void> {
  if (brNetfilterLoaded()) return;
  let why: string;
  try {
    const out = await run("modprobe", ["br_netfilter"]);
    why = out.code === 0 ? "" : lastLine(out.stderr) || `modprobe exited ${out.code}`;
  } catch (e) {
    why = (e as Error).message;
  }
  if (brNetfilterLoaded()) return;
  throw new CniError(
    ErrorCode.PluginNotAvailable,
    "kernel module br_netfilter is not loaded and could not be loaded: pods could not reach " +
      "Services (kube-proxy's NAT never sees replies bridged between pods)",
    `${why || `${BRIDGE_NF_DIR} is still missing after modprobe`}; load it on the node ` +
      "(e.g. /etc/modules-load.d/br_netfilter.conf)",
  );
}

/**
 * Turns on IPv4 forwarding, and sets the bridge's rp_filter to loose (2): the kernel uses the
 * larger of `all` and the interface's value, so 2 keeps a node with `all.rp_filter=1` from
 * dropping pod traffic whose return path it judges differently (e.g. a fabric that also routes
 * the pod subnet), while still dropping sources with no route at all.
 * @throws CniError 100 when a sysctl cannot be written.
 */
export function enableRouting(bridge: string): void {
  for (
    const [path, value] of [
      [IP_FORWARD, "1"],
      [`/proc/sys/net/ipv4/conf/${bridge}/rp_filter`, "2"],
    ] as const
  ) {
    if (read(path) === value) continue;
    try {
      Deno.writeTextFileSync(path, value);
    } catch (e) {
      throw new CniError(
        ErrorCode.LinkSetupFailed,
        `failed to set ${path} to ${value}: ${(e as Error).message}`,
      );
    }
  }
}
