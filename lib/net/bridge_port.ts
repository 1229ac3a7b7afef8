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

/**
 * Plugs a pod's host veth into its network's bridge. With `linuxbr` the daemon does not plug
 * ports (it only pins the MAC with `bridge fdb replace`), so the plugin does, before attaching.
 */
export async function plugIntoBridge(port: string, bridge: string): Promise<void> {
  if (masterOf(port) === bridge) return;
  const out = await run("ip", ["link", "set", port, "master", bridge]);
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to plug "${port}" into bridge "${bridge}": ${lastLine(out.stderr)}`,
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
