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
 * Plugs a pod's host veth into its network's bridge, in hairpin mode. With `linuxbr` the daemon
 * does not plug ports (it only pins the MAC with `bridge fdb replace`), so the plugin does, before
 * attaching. Hairpin: when kube-proxy DNATs a pod's packet to a backend on the same bridge,
 * br_netfilter does not route it but bridges it back ("bridged DNAT"); for a pod reaching itself
 * through its own Service that is out of the port it came in by, which a bridge only does in
 * hairpin mode (measured: without it, the hairpin ping fails).
 */
export async function plugIntoBridge(port: string, bridge: string): Promise<void> {
  if (masterOf(port) === bridge) {
    // Plugged when it was made (see createPodInterface): hairpin is a file write, no process.
    if (hairpinOn(port) || setHairpin(port)) return;
  }
  const lines = [
    `link set ${port} master ${bridge}`,
    `link set ${port} type bridge_slave hairpin on`,
  ];
  const out = await run("ip", ["-batch", "-"], { stdin: lines.join("\n") + "\n" });
  if (out.code !== 0) {
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `failed to plug "${port}" into bridge "${bridge}": ${lastLine(out.stderr)}`,
    );
  }
}

/** Turns hairpin mode on through /sys; false when the kernel refused (the caller then uses `ip`). */
function setHairpin(port: string): boolean {
  try {
    Deno.writeTextFileSync(`/sys/class/net/${port}/brport/hairpin_mode`, "1");
    return hairpinOn(port);
  } catch {
    return false;
  }
}

/** True when a bridge port is in hairpin mode (read from /sys). */
export function hairpinOn(port: string): boolean {
  try {
    return Deno.readTextFileSync(`/sys/class/net/${port}/brport/hairpin_mode`).trim() === "1";
  } catch {
    return false;
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
