/**
 * Which bridge and VXLAN device carry a VPN instance on this node. Found through the bridge a
 * recorded host veth (or a port the daemon attached) is plugged into, never by name, so it works
 * with the daemon's own `evpn---<id>`/`vxlan--<id>` and with the plugin's `bpbr-<id>`/`bpvx-<id>`.
 */
import type { AttachmentRecord } from "../state/attachments.ts";
import type { DaemonInstance } from "./daemon_state.ts";
import type { KernelLink } from "./kernel_state.ts";

/** The devices of one instance; undefined where none was found. */
export interface InstanceDevices {
  bridge?: string;
  vxlan?: string;
}

/** Finds the instance's bridge, then the VXLAN port on it (the one with the instance's VNI first). */
export function instanceDevices(
  instance: DaemonInstance,
  records: AttachmentRecord[],
  links: Map<string, KernelLink>,
): InstanceDevices {
  const ports = [
    ...records.filter((r) => r.instanceId === instance.id).map((r) => r.hostVeth),
    ...instance.ports.map((p) => p.localPort),
  ];
  for (const port of ports) {
    const link = links.get(port);
    if (!link) continue;
    // The gateway endpoint of the plugin-owned layout is attached with the bridge as its port.
    const bridge = link.kind === "bridge" ? link.name : link.master;
    if (bridge === undefined) continue;
    const vxlans = [...links.values()].filter((l) => l.kind === "vxlan" && l.master === bridge);
    const vxlan = vxlans.find((l) => l.vni === instance.vni) ?? vxlans[0];
    return { bridge, vxlan: vxlan?.name };
  }
  return {};
}
