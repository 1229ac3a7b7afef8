/**
 * The node check's findings: each kind is one way the kernel, the daemon and the plugin's
 * records disagree, and names what it is about (MAC, IP, VNI, VTEP, record, device).
 */

/** Every kind, in report order. */
export const NODE_FINDING_KINDS = [
  /** A received MAC/IP route with no fdb entry for its MAC on the instance's VXLAN device. */
  "fdb_missing",
  /** The fdb entry for a received MAC points at a VTEP that did not advertise it. */
  "fdb_wrong_vtep",
  /** An fdb entry for a MAC no received route carries (e.g. a deleted pod's). */
  "fdb_stale",
  /** A VTEP advertised the VNI (type-3 route) but is not in its all-zeros flood list. */
  "flood_missing",
  /** A flood list entry towards a VTEP with no type-3 route for the VNI. */
  "flood_stale",
  /** A received MAC/IP route with no neighbour entry for its IP on the VXLAN device. */
  "neigh_missing",
  /** The neighbour entry for a received IP holds another MAC than the route. */
  "neigh_wrong_mac",
  /** A permanent neighbour entry for an IP no received route carries. */
  "neigh_stale",
  /** A plugin attachment record whose host veth does not exist. */
  "record_without_veth",
  /** A veth plugged into an instance's bridge that no attachment record names. */
  "veth_without_record",
  /** A recorded pod the daemon has no endpoint for (on the recorded port). */
  "port_not_attached",
  /** A recorded pod the daemon lists as attached but no longer advertises (e.g. after B1). */
  "route_not_advertised",
  /** A daemon endpoint no attachment record accounts for (e.g. left by B1 after DEL). */
  "port_without_record",
  /** A VPN instance of the daemon whose VXLAN device could not be found on its bridge. */
  "vxlan_device_missing",
  /** A VXLAN device plugged into no bridge (e.g. left by B2 when an instance emptied). */
  "vxlan_without_bridge",
] as const;

/** One kind of finding. */
export type NodeFindingKind = typeof NODE_FINDING_KINDS[number];

/** One disagreement found on the node. */
export interface NodeFinding {
  kind: NodeFindingKind;
  /** One line saying what is wrong, with every name that identifies it. */
  message: string;
  /** The VPN instance, when the finding belongs to one. */
  instance?: string;
  vni?: number;
  mac?: string;
  ip?: string;
  /** The VTEP the kernel uses (fdb entries) or the route names (missing entries). */
  vtep?: string;
  /** Where the routes say the MAC lives, for fdb_wrong_vtep. */
  expectedVteps?: string[];
  /** The MAC the route carries, for neigh_wrong_mac. */
  expectedMac?: string;
  /** The kernel device the entry is on, or the veth. */
  device?: string;
  /** The attachment record, "containerId/ifname". */
  record?: string;
  /** The daemon's port (local_port) of an endpoint. */
  port?: string;
}

/** How many findings of each kind (every kind present, zero when none). */
export function countByKind(findings: NodeFinding[]): Record<NodeFindingKind, number> {
  const counts = Object.fromEntries(NODE_FINDING_KINDS.map((k) => [k, 0])) as Record<
    NodeFindingKind,
    number
  >;
  for (const f of findings) counts[f.kind]++;
  return counts;
}
