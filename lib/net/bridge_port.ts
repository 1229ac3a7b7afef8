import { CniError, ErrorCode } from "../cni/errors.ts";
import { lastLine, run } from "./run.ts";

/** The bridge a link is enslaved to, read from /sys (no spawn); undefined when none. */
export function masterOf(ifname: string): string | undefined {
  try {
    return Deno.readLinkSync(`/sys/class/net/${ifname}/master`).split("/").at(-1);
  } catch {
    return undefined;
  }
}

/** Enslaves a port to a bridge and pins the pod's MAC on it, as the daemon's driver does. */
export async function plugIntoBridge(port: string, bridge: string, mac: string): Promise<void> {
  const link = await run("ip", ["link", "set", port, "master", bridge]);
  if (link.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to plug "${port}" into bridge "${bridge}": ${lastLine(link.stderr)}`,
    );
  }
  const fdb = await run("bridge", ["fdb", "replace", mac, "dev", port, "master", "static"]);
  if (fdb.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to add fdb entry ${mac} on "${port}": ${lastLine(fdb.stderr)}`,
    );
  }
}

/** The MAC of a link, read from /sys; undefined when the link does not exist. */
export function macOf(ifname: string): string | undefined {
  try {
    return Deno.readTextFileSync(`/sys/class/net/${ifname}/address`).trim();
  } catch {
    return undefined;
  }
}

/**
 * Makes the instance's bridge the pods' anycast gateway: the same address and MAC on every node,
 * so a pod keeps its gateway wherever it lands, and the node routes what leaves the pod subnet.
 * The bridge belongs to the daemon, which recreates it after a restart; a bridge that already has
 * the gateway MAC was configured by an earlier ADD, so the common case costs no spawn.
 */
export async function ensureAnycastGateway(
  bridge: string,
  gatewayCidr: string,
  mac: string,
): Promise<void> {
  if (macOf(bridge) === mac) return;
  const out = await run("ip", ["-batch", "-"], {
    stdin: [
      `link set ${bridge} address ${mac}`,
      `addr replace ${gatewayCidr} dev ${bridge}`,
      `link set ${bridge} up`,
    ].join("\n") + "\n",
  });
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to configure anycast gateway ${gatewayCidr} on "${bridge}": ${lastLine(out.stderr)}`,
    );
  }
  // The node routes for its pods from now on.
  Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", "1");
}
